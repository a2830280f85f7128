/*
 * llm_server.h - start tests/llm/server.py as a real process on 127.0.0.1,
 * talk to its control endpoint, read its request log, stop it by PID.
 */
#ifndef GNARL_LLM_SERVER_H
#define GNARL_LLM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct llm_server {
	pid_t pid;
	int port;
	char dir[256];        /* temp dir holding the log and the port file */
	char log_path[320];
	char base[64];        /* "http://127.0.0.1:<port>" */
};

/* Start the server with `default_behaviour` (JSON text, NULL: ACTION UP).
 * 0, or -1 with a message on stderr. */
int llm_server_start(struct llm_server *s, const char *default_behaviour);
/* SIGTERM by PID, wait for it, remove the temp dir. */
void llm_server_stop(struct llm_server *s);
/* POST /control with body (JSON text).  0 or -1. */
int llm_server_control(struct llm_server *s, const char *body);
/* Chat requests the server has seen (GET /control), -1 on error. */
long llm_server_requests(struct llm_server *s);
/* A counter of GET /control: "requests", "answered" (replies sent),
 * "held" (replies waiting for a release); -1 on error. */
long llm_server_count(struct llm_server *s, const char *what);
/* Wait until the server has seen at least n chat requests. */
bool llm_server_wait_requests(struct llm_server *s, long n, int timeout_ms);
/* The request log, one JSON object per request (owned: json_decref). */
json_t *llm_server_log(struct llm_server *s);
/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
int llm_dead_port(void);
/* Run the Python checker tests/llm/check_image.py with args; its exit code. */
int llm_run_checker(const char *const *args);

#endif /* GNARL_LLM_SERVER_H */
