/*
 * gnarl/plugin.h - the whole plugin ABI of gnarl.
 *
 * A plugin is a shared object exporting exactly one symbol:
 *
 *     const struct gnarl_plugin *gnarl_plugin_entry(void);
 *
 * The entry is pure (no side effects, callable any number of times) and
 * returns a pointer to a static, const descriptor.  The descriptor names the
 * plugin's kind (env, reward, llm, storage), its parameters and a pointer to
 * the kind's table of operations.
 *
 * Contract (see sdk/README.md for the long form):
 *  - Every struct that crosses the boundary starts with a size (or is fixed
 *    size, like struct gnarl_game_state) and only ever grows at the end.
 *    A reader checks `size` before touching a field added in a later minor.
 *  - The host refuses a plugin whose ABI major differs from its own, whose
 *    descriptor is smaller than version 1.0's, or whose kind does not match
 *    the config slot it is listed in.
 *  - Only the host parses YAML.  Plugins declare their parameters; the host
 *    validates the config against the declaration and fills defaults before
 *    `create` runs.  No third-party type crosses the boundary.
 *  - Whoever allocates frees.  Every pointer below is marked borrowed (valid
 *    for the duration stated, owned by the other side), owned (the receiver
 *    frees it with the receiver's own function) or copied.
 *  - Setup may fail, the step path may not: `create` validates and
 *    allocates; step, compute, request and poll never allocate and return
 *    void or a count.
 *  - Every op of a kind's table is mandatory except those marked optional
 *    (a reward's destroy, episode_start, save_size/save/load,
 *    memory_size/connect_memory); the host refuses a table with a
 *    mandatory op NULL, naming it.
 *  - Arrays of structs that cross the boundary are read with the stride
 *    their writer declares (param_size, suggestion_size), so those structs
 *    can grow at the end too.
 *  - Plugins never write to stdout.  They log through the host.
 *
 * Headers of this SDK depend only on the C11 standard library.
 * gnarl/reward.h builds a reward term on this header in a few lines.
 */
#ifndef GNARL_PLUGIN_H
#define GNARL_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gnarl/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version: major << 16 | minor.  A new minor only appends fields and
 * functions; a new major breaks and the host refuses old plugins.
 * 1.0: the first.  1.1: reward terms' destroy and episode_start optional,
 * per-env memory kept by the host (memory_size, connect_memory),
 * param_size and suggestion_size (array strides), GNARL_HAS, envs' one-env
 * state ops (env_state_size, save_env_state, load_env_state: the archive
 * of start states), gnarl_put_f64/gnarl_get_f64. */
#define GNARL_ABI_MAJOR 1
#define GNARL_ABI_MINOR 1
#define GNARL_ABI_VERSION ((GNARL_ABI_MAJOR << 16) | GNARL_ABI_MINOR)

/* Size of every error buffer passed across the boundary. */
#define GNARL_ERR_SIZE 1024

#if defined(_WIN32)
#define GNARL_EXPORT __declspec(dllexport)
#else
#define GNARL_EXPORT __attribute__((visibility("default")))
#endif

/* Does the struct at p, which starts with its writer's `size`, hold
 * `member`?  Read a member added in a later minor only when it does:
 *     if (GNARL_HAS(host, struct gnarl_host, some_1_2_service)) ... */
#define GNARL_HAS(p, type, member)                                           \
	((p)->size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* ------------------------------------------------------------------------ */
/* Error codes.  0 is success; failures are negative GNARL_E* values.       */
/* The host's gnarl_strerror() is generated from this table.                */

#define GNARL_ERRNO_MAP(X)                                               \
	X(EINVAL, -1, "invalid argument")                                    \
	X(ENOMEM, -2, "out of memory")                                       \
	X(EIO, -3, "input/output error")                                     \
	X(ENOENT, -4, "not found")                                           \
	X(EEXIST, -5, "already exists")                                      \
	X(EACCES, -6, "access denied")                                       \
	X(EAGAIN, -7, "try again later")                                     \
	X(EBUSY, -8, "busy")                                                 \
	X(ETIMEDOUT, -9, "timed out")                                        \
	X(ECONN, -10, "connection failed")                                   \
	X(EPROTO, -11, "protocol error")                                     \
	X(ECORRUPT, -12, "data corrupt")                                     \
	X(EVERSION, -13, "version mismatch")                                 \
	X(EKIND, -14, "wrong plugin kind")                                   \
	X(ECONFIG, -15, "configuration error")                               \
	X(EINCOMPAT, -16, "incompatible")                                    \
	X(EUNSUPPORTED, -17, "not supported")                                \
	X(EINTERRUPTED, -18, "interrupted")

enum gnarl_error {
	GNARL_OK = 0,
#define GNARL_ERR_ENUM(name, code, text) GNARL_##name = code,
	GNARL_ERRNO_MAP(GNARL_ERR_ENUM)
#undef GNARL_ERR_ENUM
};

/* ------------------------------------------------------------------------ */
/* Config values: the host's parsed YAML, handed to plugins read-only.      */

enum gnarl_value_type {
	GNARL_VALUE_NULL = 0,
	GNARL_VALUE_BOOL,
	GNARL_VALUE_INT,
	GNARL_VALUE_FLOAT,
	GNARL_VALUE_STRING,
	GNARL_VALUE_LIST,
	GNARL_VALUE_MAP,
};

enum gnarl_value_flags {
	GNARL_VALUE_SECRET = 1 << 0,   /* from a SECRET parameter: never print it */
};

/* A node of a config tree.  Borrowed: owned by the host, valid until the
 * plugin instance that received it is destroyed.  A FLOAT-typed parameter
 * given as an integer in YAML arrives as FLOAT.  The struct has a fixed
 * size forever (items[] is an array of it); new fields take `reserved`. */
struct gnarl_value {
	enum gnarl_value_type type;
	unsigned flags;            /* enum gnarl_value_flags */
	int line, column;          /* 1-based source position; 0 if none */
	union {
		bool b;
		int64_t i;
		double f;
		const char *s;         /* UTF-8, NUL-terminated */
	} as;
	size_t count;              /* LIST, MAP: number of items */
	const struct gnarl_value *items; /* LIST, MAP: count items */
	const char *const *keys;   /* MAP: keys[k] names items[k] */
	const char *raw;           /* scalar text as written, before ${VAR}
	                              expansion; NULL when not a scalar */
	void *reserved[3];
};

/* ------------------------------------------------------------------------ */
/* Declared parameters.                                                     */

enum gnarl_param_type {
	GNARL_PARAM_BOOL = 1,
	GNARL_PARAM_INT,
	GNARL_PARAM_FLOAT,
	GNARL_PARAM_STRING,
	GNARL_PARAM_LIST,          /* a YAML sequence; `item` gives its items' type */
	GNARL_PARAM_MAP,           /* a YAML mapping the plugin validates itself */
};

enum gnarl_param_flags {
	GNARL_PARAM_REQUIRED = 1 << 0, /* no default: the config must set it */
	GNARL_PARAM_HAS_MIN = 1 << 1,  /* INT, FLOAT (and their lists): >= min */
	GNARL_PARAM_HAS_MAX = 1 << 2,  /* INT, FLOAT (and their lists): <= max */
	GNARL_PARAM_SECRET = 1 << 3,   /* never logged, redacted in copies */
};

/* One declared parameter.  Tables end with an entry whose name is NULL.
 * The host steps through a table by the descriptor's param_size (1.1), so
 * this struct may grow at the end in a later minor. */
struct gnarl_param {
	const char *name;
	enum gnarl_param_type type;
	enum gnarl_param_type item;    /* LIST only: type of each item, 0 = any */
	unsigned flags;                /* enum gnarl_param_flags */
	const char *default_yaml;      /* default as YAML text ("0.1", "[64, 64]",
	                                  "null"); NULL when REQUIRED */
	double min, max;               /* used when HAS_MIN / HAS_MAX */
	const char *help;              /* one line */
	const char *choices;           /* STRING: allowed values separated by
	                                  '|' ("relu|tanh"); NULL: any */
};

#define GNARL_PARAMS_END {0}

/* Size of struct gnarl_param in ABI 1.0 (and 1.1), frozen: the stride of
 * a table whose descriptor has no param_size. */
#define GNARL_PARAM_V1_SIZE (offsetof(struct gnarl_param, choices) + sizeof(const char *))

/* ------------------------------------------------------------------------ */
/* Host services: one table per plugin instance, passed to `create`.        */
/* Borrowed; valid until that instance's `destroy` returns.                 */

enum gnarl_log_level {
	GNARL_LOG_ERROR = 0,
	GNARL_LOG_WARN,
	GNARL_LOG_INFO,
	GNARL_LOG_DEBUG,
};

struct gnarl_host {
	uint32_t size;                 /* sizeof(struct gnarl_host) of the host */
	uint32_t abi_version;          /* the host's GNARL_ABI_VERSION */

	/* Log a line (no trailing newline needed); prefixed with the plugin's
	 * name.  Thread-safe. */
	void (*log)(const struct gnarl_host *host, enum gnarl_log_level level,
	            const char *fmt, ...)
#if defined(__GNUC__)
	    __attribute__((format(printf, 3, 4)))
#endif
	    ;

	/* The validated value of a declared parameter, defaults filled in;
	 * NULL for an undeclared name or an optional parameter set to null. */
	const struct gnarl_value *(*param)(const struct gnarl_host *host,
	                                   const char *name);

	/* Set gauge `name` (e.g. "llm/calls") to `value`.  The host writes the
	 * latest value of every gauge once per iteration (progress.csv,
	 * TensorBoard, HUD), prefixed with nothing: choose "<plugin>/<what>".
	 * Thread-safe; cheap enough for once per poll, not once per env. */
	void (*metric)(const struct gnarl_host *host, const char *name,
	               double value);

	/* Store `data` at `key` under the run directory (atomic, through the
	 * run's storage).  For run-level artefacts, not for the step path. */
	int (*run_put)(const struct gnarl_host *host, const char *key,
	               const void *data, size_t len, char err[GNARL_ERR_SIZE]);

	uint64_t seed;                 /* derived from run.seed and the plugin slot */
	const char *config_dir;        /* directory of the config file, for
	                                  relative paths; borrowed */
	int rank, world_size;          /* MPI rank and size; 0 and 1 without MPI */
	void *host_data;               /* the host's; plugins must not touch */
};

/* ------------------------------------------------------------------------ */
/* The game state every Zelda-like env fills and every reward plugin reads.  */
/* Fixed size (GNARL_GAME_STATE_SIZE) so arrays of it have one stride across */
/* versions; new fields take bytes from `reserved`, and `size` says how far  */
/* the writer filled it.  Meanings follow Oracle of Seasons' work RAM.       */

enum gnarl_direction {
	GNARL_DIR_UP = 0,
	GNARL_DIR_RIGHT = 1,
	GNARL_DIR_DOWN = 2,
	GNARL_DIR_LEFT = 3,
};

/* Treasure ids (bit numbers in `treasures`), as in the real game. */
#define GNARL_TREASURE_SWORD 0x05
#define GNARL_TREASURE_GNARLED_KEY 0x42

/* Groups, as in the real game. */
#define GNARL_GROUP_OVERWORLD 0
#define GNARL_GROUP_SUBROSIA 1
#define GNARL_GROUP_MAKU_TREE 2
#define GNARL_GROUP_INDOORS 3
#define GNARL_GROUP_DUNGEON 4

#define GNARL_GAME_STATE_SIZE 256

/* Bits of gnarl_game_state.flags.  A 1.0 writer leaves flags 0. */
enum gnarl_state_flags {
	/* The screen is changing (scrolling to the next room, a fade through a
	 * door, a room loading): `group`/`room` may already name the next room
	 * while x and y are still the last room's (or neither is final).
	 * Reward terms and the host credit no room, cell or position of a
	 * state with this flag; they resume at the next state without it. */
	GNARL_STATE_TRANSITION = 1u << 0,
};

struct gnarl_game_state {
	uint32_t size;             /* bytes the writer filled: offsetof(end) */
	uint32_t flags;            /* enum gnarl_state_flags; unknown bits: ignore */
	uint64_t frame;            /* frames (or steps) since power-on/reset */
	int32_t group;             /* 0 overworld, 1 Subrosia, 2 Maku Tree, 3 indoors, 4-5 dungeons */
	int32_t room;              /* room within the group; (group, room) names a screen */
	int32_t dungeon;           /* dungeon index, -1 outside */
	int32_t x, y;              /* Link's position in pixels within the room */
	int32_t direction;         /* enum gnarl_direction */
	int32_t health, max_health;/* quarter hearts */
	int32_t rupees;
	int32_t keys;              /* small keys of the current dungeon */
	int32_t sword_level;       /* 0 none */
	int32_t enemies_killed;    /* the game's cumulative counter */
	int32_t deaths;            /* the game's cumulative counter */
	int32_t enemies_visible;   /* active enemies in the current room */
	uint8_t text_active;       /* a text box is open */
	uint8_t menu_open;
	uint8_t season;            /* 0 spring .. 3 winter */
	uint8_t pad0;
	uint8_t treasures[16];     /* bit t set: treasure t obtained (bit t%8 of byte t/8) */
	const uint8_t *ram;        /* borrowed work-RAM image, NULL if none; valid
	                              until the env's next step or reset */
	uint64_t ram_size;
	uint8_t reserved[GNARL_GAME_STATE_SIZE - 112];
};

/* End of the fields of ABI 1.0; `size` of a 1.0 writer. */
#define GNARL_GAME_STATE_V1_SIZE 112

#ifndef __cplusplus
_Static_assert(sizeof(struct gnarl_game_state) == GNARL_GAME_STATE_SIZE,
               "struct gnarl_game_state must keep its fixed size");
#endif

static inline bool gnarl_has_treasure(const struct gnarl_game_state *s,
                                      unsigned id)
{
	return id < 128 && (s->treasures[id / 8] >> (id % 8)) & 1u;
}

static inline void gnarl_set_treasure(struct gnarl_game_state *s, unsigned id)
{
	if (id < 128)
		s->treasures[id / 8] |= (uint8_t)(1u << (id % 8));
}

/* ------------------------------------------------------------------------ */
/* env: steps N environments in place in host arrays.                       */

/* Each env's done flags after a step. */
enum gnarl_done {
	GNARL_DONE_TERMINATED = 1 << 0, /* a terminal state: do not bootstrap */
	GNARL_DONE_TRUNCATED = 1 << 1,  /* time limit: bootstrap from final obs */
};

/* Width and height of every rendered frame: the Game Boy screen.  Frames
 * are RGB, 3 bytes per pixel, rows top to bottom, no padding. */
#define GNARL_FRAME_WIDTH 160
#define GNARL_FRAME_HEIGHT 144
#define GNARL_FRAME_BYTES (GNARL_FRAME_WIDTH * GNARL_FRAME_HEIGHT * 3)

/* What an env instance offers; filled once by `spaces`. */
struct gnarl_env_spaces {
	uint32_t size;
	uint32_t obs_dim;              /* floats the env writes per env (O_env) */
	uint32_t n_actions;            /* A */
	const char *const *action_names; /* borrowed, A names, valid until destroy */
	bool has_frames;               /* can render GNARL_FRAME_* frames */
	bool has_game_state;           /* fills struct gnarl_game_state */
};

/* The host's arrays, all indexed by global env index 0..N-1.  Borrowed for
 * the duration of one call.  A call for envs [first, first+count) touches
 * only those rows, so the host may call it for disjoint ranges from several
 * threads at once. */
struct gnarl_env_io {
	uint32_t size;
	uint32_t obs_stride;           /* floats between rows of obs (>= obs_dim) */
	float *obs;                    /* out: (N, obs_stride); env writes obs_dim */
	struct gnarl_game_state *states; /* out: N states (if has_game_state) */
	const int32_t *actions;        /* in: N actions (step only) */
	float *rewards;                /* out: N env-native rewards (step only;
	                                  0 for envs paid only by reward plugins) */
	uint8_t *dones;                /* out: N enum gnarl_done flags (step only) */
	const uint8_t *want_frame;     /* in: N flags; non-zero asks for a frame */
	uint8_t *frames;               /* out: (N, GNARL_FRAME_BYTES), written only
	                                  where want_frame is set */
};

struct gnarl_env_ops {
	uint32_t size;
	/* Create N envs.  NULL on failure with a message in err. */
	void *(*create)(const struct gnarl_host *host, uint32_t n_envs,
	                char err[GNARL_ERR_SIZE]);
	void (*destroy)(void *env);  /* accepts NULL */
	void (*spaces)(void *env, struct gnarl_env_spaces *out);
	/* Start a new episode in env `index` from `seed`; write its first
	 * observation, state (and frame if wanted). */
	void (*reset)(void *env, const struct gnarl_env_io *io, uint32_t index,
	              uint64_t seed);
	/* Apply io->actions to envs [first, first+count).  An env that ends its
	 * episode sets dones and leaves its final observation and state in io;
	 * the host then calls reset for it. */
	void (*step)(void *env, const struct gnarl_env_io *io, uint32_t first,
	             uint32_t count);
	/* Optional, all three or none (NULL): the running episodes of all N
	 * envs, so a checkpoint resumes mid-episode exactly.  save_state
	 * writes state_size bytes; load_state gets what save_state wrote, from
	 * an instance with the same n_envs and params, and writes every env's
	 * observation and game state into io as reset does.  Read these only
	 * when `size` covers them.  Without them the host resets every env on
	 * resume. */
	size_t (*state_size)(void *env);
	int (*save_state)(void *env, void *buf, size_t size);
	int (*load_state)(void *env, const struct gnarl_env_io *io, const void *buf,
	                  size_t size, char err[GNARL_ERR_SIZE]);
	/* ABI 1.1.  Optional, all three or none (NULL): ONE env's state, so
	 * an env can start from where another env was (the archive of start
	 * states, Go-Explore).  env_state_size is the same for every env of an
	 * instance and never changes.  save_env_state writes exactly that many
	 * bytes of env `index`'s state.  load_env_state puts env `index` into
	 * a state that save_env_state wrote for any index, of this instance or
	 * of another with the same params (another process, an earlier run),
	 * exactly: saving it again gives the same bytes.  It writes the env's
	 * observation and game state (and frame if wanted) into io as reset
	 * does, and the episode goes on from there (its step count and time
	 * limit included).  It is called on the step path, in place of reset,
	 * for disjoint envs from several threads at once: it must not
	 * allocate.  A state it cannot load (another world, version, damaged)
	 * is refused with GNARL_EINCOMPAT or GNARL_ECORRUPT and a message,
	 * before anything changes.  Read these only when `size` covers them. */
	size_t (*env_state_size)(void *env);
	int (*save_env_state)(void *env, uint32_t index, void *buf, size_t size);
	int (*load_env_state)(void *env, const struct gnarl_env_io *io, uint32_t index,
	                      const void *buf, size_t size, char err[GNARL_ERR_SIZE]);
};

/* Saved state is bytes that another machine may load: these write and
 * read integers little-endian at any alignment. */
static inline void gnarl_put_u32(void *p, uint32_t v)
{
	unsigned char *b = (unsigned char *)p;

	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t gnarl_get_u32(const void *p)
{
	const unsigned char *b = (const unsigned char *)p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void gnarl_put_u64(void *p, uint64_t v)
{
	gnarl_put_u32(p, (uint32_t)v);
	gnarl_put_u32((unsigned char *)p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t gnarl_get_u64(const void *p)
{
	return (uint64_t)gnarl_get_u32(p) | (uint64_t)gnarl_get_u32((const unsigned char *)p + 4) << 32;
}

/* A double as its IEEE 754 bits, little-endian (since ABI 1.1). */
static inline void gnarl_put_f64(void *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	gnarl_put_u64(p, v);
}

static inline double gnarl_get_f64(const void *p)
{
	uint64_t v = gnarl_get_u64(p);
	double d;

	memcpy(&d, &v, sizeof(d));
	return d;
}

/* ------------------------------------------------------------------------ */
/* reward: one term of the reward, r = sum_i weight_i * term_i.             */

struct gnarl_reward_ops {
	uint32_t size;
	void *(*create)(const struct gnarl_host *host, uint32_t n_envs,
	                char err[GNARL_ERR_SIZE]);
	/* Accepts NULL.  Optional since 1.1 (NULL: nothing to free). */
	void (*destroy)(void *term);
	/* Env `index` starts an episode in `state`: reset per-episode memory.
	 * Optional since 1.1 (NULL: nothing to do beyond the host zeroing the
	 * env's memory, see memory_size). */
	void (*episode_start)(void *term, uint32_t index,
	                      const struct gnarl_game_state *state);
	/* For envs [first, first+count): out[i] = this term's unweighted reward
	 * for the transition prev[i] -> cur[i] under actions[i].  Arrays are
	 * indexed by global env index.  Disjoint ranges may run concurrently. */
	void (*compute)(void *term, uint32_t first, uint32_t count,
	                const struct gnarl_game_state *prev,
	                const struct gnarl_game_state *cur,
	                const int32_t *actions, float *out);
	/* Optional, all three or none (NULL): what the term remembers, saved
	 * in checkpoints: run-level memory (novelty across episodes) and each
	 * env's episode memory.  save_size says how many bytes save writes;
	 * load gets exactly what save wrote.  If the saving instance had
	 * another n_envs, load keeps the run-level memory only: the host then
	 * starts a new episode (episode_start) in every env. */
	size_t (*save_size)(void *term);
	int (*save)(void *term, void *buf, size_t size);
	int (*load)(void *term, const void *buf, size_t size,
	            char err[GNARL_ERR_SIZE]);

	/* ---- ABI 1.1 (read only when `size` covers them: GNARL_HAS) ---- */
	/* Optional, both or none: per-env memory the host keeps for the term.
	 * memory_size, called once after create, says how many bytes each env
	 * needs (0: none).  The host allocates n_envs blocks of that size,
	 * contiguous and aligned for any type (env i's at memory + i * size),
	 * zeroes env i's block before each episode_start of env i, saves the
	 * blocks in checkpoints and restores them on resume (or starts them
	 * zeroed, with a new episode, when it cannot: another n_envs, new
	 * params).  connect_memory hands the blocks over, once, before
	 * episode_start or compute runs; they are the host's and valid until
	 * destroy.  Plain data only (no pointers): the bytes are saved as they
	 * are, little-endian (gnarl runs on little-endian machines). */
	size_t (*memory_size)(void *term);
	void (*connect_memory)(void *term, void *memory);
};

/* ------------------------------------------------------------------------ */
/* llm: asynchronous guidance.  `request` and `poll` never block.           */

struct gnarl_llm_request {
	uint32_t size;
	uint32_t env;                  /* global env index */
	uint64_t id;                   /* host's id, echoed in the suggestion */
	const struct gnarl_game_state *state; /* borrowed for the call */
	const uint8_t *frame;          /* borrowed for the call; NULL unless the
	                                  plugin wants frames */
	int32_t last_suggestion;       /* previous action suggested for env, -1 */
	uint32_t n_actions;
	const char *const *action_names; /* borrowed for the call */
};

/* One element of poll's `out` array.  The host reads the array with the
 * stride the ops' suggestion_size declares (1.1), so this struct may grow
 * at the end in a later minor. */
struct gnarl_llm_suggestion {
	uint32_t env;
	int32_t action;                /* index into the env's action names;
	                                  -1: the request failed */
	uint64_t id;                   /* the request's id */
};

/* Size of struct gnarl_llm_suggestion in ABI 1.0 (and 1.1), frozen: the
 * stride of an llm whose ops have no suggestion_size. */
#define GNARL_LLM_SUGGESTION_V1_SIZE 16

enum gnarl_llm_flags {
	GNARL_LLM_WANTS_FRAME = 1 << 0, /* request needs the env's current frame */
};

struct gnarl_llm_ops {
	uint32_t size;
	unsigned flags;                /* enum gnarl_llm_flags */
	double default_probability;    /* per env per step, if the config says none */
	double default_alignment_bonus;
	void *(*create)(const struct gnarl_host *host, uint32_t n_envs,
	                char err[GNARL_ERR_SIZE]);
	void (*destroy)(void *llm);  /* accepts NULL; cancels what is in flight */
	/* Queue a request; copies what it needs.  0, or GNARL_EBUSY when at its
	 * in-flight cap or its circuit breaker is open (the host just skips). */
	int (*request)(void *llm, const struct gnarl_llm_request *req);
	/* Move up to `max` finished requests into out; returns how many.
	 * Every accepted request comes out exactly once: with action >= 0 as
	 * a suggestion, or with action = -1 when it failed (timeout, HTTP
	 * error, unparsable reply; the plugin counts why in its metrics), so
	 * the host knows the env has no request in flight any more. */
	uint32_t (*poll)(void *llm, struct gnarl_llm_suggestion *out,
	                 uint32_t max);

	/* ---- ABI 1.1 ---- */
	/* sizeof(struct gnarl_llm_suggestion) as the plugin was built: poll
	 * writes elements of this size (0: GNARL_LLM_SUGGESTION_V1_SIZE).  The
	 * host passes an array of max elements of it. */
	uint32_t suggestion_size;
};

/* ------------------------------------------------------------------------ */
/* storage: objects under a root URI ("runs", "file:///x", "s3://b/prefix").  */
/* Keys are relative, '/'-separated, never starting with '/'.  All calls may */
/* block and may be made from several threads at once.                      */

/* Receives the bytes of a get, in order, in pieces.  Return 0 to go on,
 * non-zero to abort the get (which then returns GNARL_EINTERRUPTED). */
typedef int (*gnarl_sink_fn)(void *ctx, const void *data, size_t len);

/* Receives each key of a list (relative to the root) and its size.
 * Return 0 to go on, non-zero to stop (list then returns
 * GNARL_EINTERRUPTED). */
typedef int (*gnarl_list_fn)(void *ctx, const char *key, uint64_t size);

struct gnarl_storage_ops {
	uint32_t size;
	const char *schemes;           /* space-separated URI schemes it serves,
	                                  e.g. "s3"; "file" also serves plain paths */
	/* Open the store at root_uri.  NULL on failure with a message in err. */
	void *(*create)(const struct gnarl_host *host, const char *root_uri,
	                char err[GNARL_ERR_SIZE]);
	void (*destroy)(void *store);  /* accepts NULL */
	/* Atomic: a reader sees the old object or the new one, never a part. */
	int (*put)(void *store, const char *key, const void *data, size_t len,
	           char err[GNARL_ERR_SIZE]);
	/* GNARL_ENOENT when missing (err says which key). */
	int (*get)(void *store, const char *key, gnarl_sink_fn sink, void *ctx,
	           char err[GNARL_ERR_SIZE]);
	/* Every key starting with prefix, in lexicographic order. */
	int (*list)(void *store, const char *prefix, gnarl_list_fn each, void *ctx,
	            char err[GNARL_ERR_SIZE]);
	/* Removing a missing key succeeds. */
	int (*remove)(void *store, const char *key, char err[GNARL_ERR_SIZE]);
	/* 1 exists, 0 missing, < 0 error. */
	int (*exists)(void *store, const char *key, char err[GNARL_ERR_SIZE]);
};

/* ------------------------------------------------------------------------ */
/* The descriptor.                                                          */

enum gnarl_plugin_kind {
	GNARL_KIND_ENV = 1,
	GNARL_KIND_REWARD = 2,
	GNARL_KIND_LLM = 3,
	GNARL_KIND_STORAGE = 4,
};

struct gnarl_plugin {
	uint32_t abi_version;          /* GNARL_ABI_VERSION it was built against */
	uint32_t size;                 /* sizeof(struct gnarl_plugin) it was built with */
	enum gnarl_plugin_kind kind;
	const char *name;              /* [a-z0-9_]+, what configs call it */
	const char *version;           /* the plugin's own version, e.g. "1.2.0" */
	const char *summary;           /* one line */
	const struct gnarl_param *params; /* table ending in GNARL_PARAMS_END */
	union {                        /* the member named by kind */
		const struct gnarl_env_ops *env;
		const struct gnarl_reward_ops *reward;
		const struct gnarl_llm_ops *llm;
		const struct gnarl_storage_ops *storage;
	} ops;

	/* ---- ABI 1.1 ---- */
	/* sizeof(struct gnarl_param) as the plugin was built: the stride of
	 * `params` (0: GNARL_PARAM_V1_SIZE). */
	uint32_t param_size;
};

/* Size of the 1.0 descriptor, frozen: the host refuses anything smaller. */
#define GNARL_PLUGIN_V1_SIZE                                                 \
	(offsetof(struct gnarl_plugin, ops) + sizeof(((struct gnarl_plugin *)0)->ops))

typedef const struct gnarl_plugin *(*gnarl_plugin_entry_fn)(void);

/* Declare the entry point in a plugin:
 *     GNARL_PLUGIN_ENTRY(&my_descriptor)
 */
#define GNARL_PLUGIN_ENTRY(descriptor)                                       \
	GNARL_EXPORT const struct gnarl_plugin *gnarl_plugin_entry(void);        \
	GNARL_EXPORT const struct gnarl_plugin *gnarl_plugin_entry(void)         \
	{                                                                        \
		return (descriptor);                                                 \
	}

/* ------------------------------------------------------------------------ */
/* Typed parameter reads (header-only; they link nothing).  Each returns the */
/* parameter's validated value; the host guarantees the type for declared    */
/* parameters, so these only fall back to `fallback` for NULL (unset).       */

static inline int64_t gnarl_param_int(const struct gnarl_host *h,
                                      const char *name, int64_t fallback)
{
	const struct gnarl_value *v = h->param(h, name);
	return v && v->type == GNARL_VALUE_INT ? v->as.i : fallback;
}

static inline double gnarl_param_float(const struct gnarl_host *h,
                                       const char *name, double fallback)
{
	const struct gnarl_value *v = h->param(h, name);
	if (v && v->type == GNARL_VALUE_FLOAT)
		return v->as.f;
	return v && v->type == GNARL_VALUE_INT ? (double)v->as.i : fallback;
}

static inline bool gnarl_param_bool(const struct gnarl_host *h,
                                    const char *name, bool fallback)
{
	const struct gnarl_value *v = h->param(h, name);
	return v && v->type == GNARL_VALUE_BOOL ? v->as.b : fallback;
}

/* Borrowed string, valid until the instance is destroyed. */
static inline const char *gnarl_param_string(const struct gnarl_host *h,
                                             const char *name,
                                             const char *fallback)
{
	const struct gnarl_value *v = h->param(h, name);
	return v && v->type == GNARL_VALUE_STRING ? v->as.s : fallback;
}

/* Item `key` of a MAP value, or NULL. */
static inline const struct gnarl_value *
gnarl_value_get(const struct gnarl_value *map, const char *key)
{
	size_t k;
	if (!map || map->type != GNARL_VALUE_MAP)
		return NULL;
	for (k = 0; k < map->count; k++)
		if (strcmp(map->keys[k], key) == 0)
			return &map->items[k];
	return NULL;
}

#ifdef __cplusplus
}
#endif

#endif /* GNARL_PLUGIN_H */
