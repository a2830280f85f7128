/*
 * llm_server.c - run the test LLM server (tests/llm/server.py) as a child
 * process: spawn it with Debian's python3, wait for its port file, control
 * it over HTTP with libcurl, read its JSONL request log, and stop it by
 * PID.  Only 127.0.0.1 is ever contacted.
 */
#define _POSIX_C_SOURCE 200809L

#include "llm_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "llm_test_host.h"

extern char **environ;

static int spawn(const char *const *argv, pid_t *pid, bool quiet)
{
	posix_spawn_file_actions_t fa;
	int rc;

	posix_spawn_file_actions_init(&fa);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

int llm_server_start(struct llm_server *s, const char *default_behaviour)
{
	char port_file[320];
	const char *argv[10];
	double end;
	int n = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/gnarl-llm-test-XXXXXX");
	if (!mkdtemp(s->dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(s->log_path, sizeof(s->log_path), "%s/requests.jsonl", s->dir);
	snprintf(port_file, sizeof(port_file), "%s/port", s->dir);
	argv[n++] = GNARL_PYTHON;
	argv[n++] = GNARL_LLM_TEST_DIR "/server.py";
	argv[n++] = "--log";
	argv[n++] = s->log_path;
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	if (default_behaviour) {
		argv[n++] = "--default";
		argv[n++] = default_behaviour;
	}
	argv[n] = NULL;
	if (spawn(argv, &s->pid, true) != 0) {
		fprintf(stderr, "cannot start %s\n", GNARL_PYTHON);
		return -1;
	}
	for (end = th_now_ms() + 20000; th_now_ms() < end; th_sleep_ms(10)) {
		FILE *f = fopen(port_file, "r");

		if (f) {
			int ok = fscanf(f, "%d", &s->port) == 1;

			fclose(f);
			if (ok) {
				snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
				return 0;
			}
		}
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			fprintf(stderr, "the test LLM server exited at start\n");
			s->pid = 0;
			return -1;
		}
	}
	fprintf(stderr, "the test LLM server wrote no port file in 20 s\n");
	llm_server_stop(s);
	return -1;
}

void llm_server_stop(struct llm_server *s)
{
	char path[400];

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	if (s->dir[0]) {
		snprintf(path, sizeof(path), "%s/requests.jsonl", s->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/port", s->dir);
		unlink(path);
		rmdir(s->dir);
		s->dir[0] = '\0';
	}
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), len = size * n;

	if (have + len < 4096) {
		memcpy(buf + have, data, len);
		buf[have + len] = '\0';
	}
	return len;
}

static int http(struct llm_server *s, const char *method, const char *path, const char *body,
                char reply[4096])
{
	char url[128];
	CURL *e = curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (!e)
		return -1;
	reply[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", s->base, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	return rc == CURLE_OK && status == 200 ? 0 : -1;
}

int llm_server_control(struct llm_server *s, const char *body)
{
	char reply[4096];

	return http(s, "POST", "/control", body, reply);
}

long llm_server_count(struct llm_server *s, const char *what)
{
	char reply[4096];
	json_t *root;
	long n;

	if (http(s, "GET", "/control", NULL, reply) < 0)
		return -1;
	root = json_loads(reply, 0, NULL);
	n = json_is_integer(json_object_get(root, what))
	        ? (long)json_integer_value(json_object_get(root, what)) : -1;
	json_decref(root);
	return n;
}

long llm_server_requests(struct llm_server *s)
{
	return llm_server_count(s, "requests");
}

bool llm_server_wait_requests(struct llm_server *s, long n, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (th_now_ms() < end) {
		if (llm_server_requests(s) >= n)
			return true;
		th_sleep_ms(5);
	}
	return llm_server_requests(s) >= n;
}

json_t *llm_server_log(struct llm_server *s)
{
	json_t *all = json_array();
	FILE *f = fopen(s->log_path, "r");
	char *line = NULL;
	size_t cap = 0;

	while (f && getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);

		if (j)
			json_array_append_new(all, j);
	}
	free(line);
	if (f)
		fclose(f);
	return all;
}

int llm_dead_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = -1;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int llm_run_checker(const char *const *args)
{
	const char *argv[32];
	pid_t pid;
	int n = 0, status = 0;

	argv[n++] = GNARL_PYTHON;
	argv[n++] = GNARL_LLM_TEST_DIR "/check_image.py";
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (spawn(argv, &pid, false) != 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
