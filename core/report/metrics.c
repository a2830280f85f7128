/*
 * metrics.c - the per-iteration report: progress line (printed by
 * core/train_console.c), progress.csv and TensorBoard events, uploaded
 * whole through storage.
 *
 * Entry points: gnarl_metrics_create/set/get/flush/sync/free, _line,
 * _add_image.
 * Invariants: scalars live in one table in first-set order; `set` marks
 * those given in the current iteration and is cleared by flush.  The CSV
 * header is fixed at the first flush.  progress.csv and every event file
 * are held in memory whole and marked dirty when they change; an upload
 * clears the mark only on success, so a failure is retried later with
 * nothing lost; when the store cannot be reached at all, the rest of that
 * upload is skipped (each file would wait out the plugin's retries while
 * the trainer waits).  Sealed event files are dropped once uploaded.
 * Who calls sync: the trainer at exit, core/resume.c after each saved
 * checkpoint (for a remote store, with metrics.upload_every null, the only
 * uploads).
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "storage.h"
#include "tfevents.h"

#define EVENT_FILE_CAP (8u << 20) /* bytes before an event file is sealed */
#define LINE_MAX_LEN   1024

struct scalar {
	char *name;
	double value;
	bool set;   /* set in the current iteration */
	bool known; /* set at least once */
};

struct sbuf {
	char *p;
	size_t len, cap;
};

struct evfile {
	char *name;
	struct gnarl_tfevents *ev;
	bool dirty;
};

struct gnarl_metrics {
	struct gnarl_storage *st; /* borrowed; NULL: write nothing */
	const char *prefix;       /* borrowed run directory key */
	bool remote, tensorboard, episodes;
	int64_t upload_every; /* 0: null */

	struct scalar *s;
	size_t n, cap;

	bool header_done;
	size_t *cols; /* CSV column -> index in s */
	size_t n_cols;
	struct sbuf csv;
	bool csv_dirty;

	struct evfile *files; /* files[n_files - 1] is current */
	size_t n_files, files_made;
	char host[128];
	int64_t created; /* unix time of the first event file */

	int64_t since_upload; /* flushes since the last upload attempt */
	double upload_start, upload_cost;
	double retry_after;   /* after a failed upload: no due upload before */
	bool uploaded_once;
	double last_flush_time;
	uint64_t last_flush_steps;
	bool flushed_once;

	const char **tags; /* scratch for events */
	float *values;
	char line[LINE_MAX_LEN]; /* the last flush's progress line */
};

static int sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return GNARL_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int sbuf_str(struct sbuf *b, const char *s)
{
	return sbuf_add(b, s, strlen(s));
}

/* The fewest digits that read back as the same value: as the same float
 * when v is exactly a float (most learner outputs are), else as the same
 * double. */
static void format_value(char *buf, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(buf, size, "nan");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "inf" : "-inf");
		return;
	}
	if ((double)(float)v == v) {
		for (int digits = 6; digits <= 9; digits++) {
			snprintf(buf, size, "%.*g", digits, v);
			if ((float)strtod(buf, NULL) == (float)v)
				return;
		}
	}
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(buf, size, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static int csv_field(struct sbuf *b, const char *s)
{
	int rc = 0;

	if (!strpbrk(s, ",\"\r\n"))
		return sbuf_str(b, s);
	rc |= sbuf_add(b, "\"", 1);
	for (; *s && rc == 0; s++)
		rc |= *s == '"' ? sbuf_add(b, "\"\"", 2) : sbuf_add(b, s, 1);
	rc |= sbuf_add(b, "\"", 1);
	return rc ? GNARL_ENOMEM : 0;
}

static struct scalar *find(const struct gnarl_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->s[i].name, name) == 0)
			return &m->s[i];
	return NULL;
}

static struct scalar *find_or_add(struct gnarl_metrics *m, const char *name)
{
	struct scalar *x = find(m, name);

	if (x)
		return x;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct scalar *s = realloc(m->s, cap * sizeof(*s));
		const char **tags = realloc(m->tags, cap * sizeof(*tags));
		float *values;

		if (s)
			m->s = s;
		if (tags)
			m->tags = tags;
		values = realloc(m->values, cap * sizeof(*values));
		if (values)
			m->values = values;
		if (!s || !tags || !values)
			return NULL;
		m->cap = cap;
	}
	x = &m->s[m->n];
	x->name = strdup(name);
	if (!x->name)
		return NULL;
	x->value = NAN;
	x->set = x->known = false;
	m->n++;
	return x;
}

void gnarl_metrics_set(struct gnarl_metrics *m, const char *name, double value)
{
	struct scalar *x = m && name ? find_or_add(m, name) : NULL;

	/* Out of memory: this value is lost; the run goes on. */
	if (!x)
		return;
	x->value = value;
	x->set = x->known = true;
}

double gnarl_metrics_get(const struct gnarl_metrics *m, const char *name, double fallback)
{
	const struct scalar *x = m && name ? find(m, name) : NULL;

	return x && x->known ? x->value : fallback;
}

bool gnarl_metrics_episodes(const struct gnarl_metrics *m)
{
	return m->episodes;
}

const char *gnarl_metrics_event_file(const struct gnarl_metrics *m)
{
	return m->n_files ? m->files[m->n_files - 1].name : NULL;
}

static char *join_key(const char *prefix, const char *name)
{
	size_t p = prefix ? strlen(prefix) : 0, n = strlen(name);
	char *k = malloc(p + n + 2);

	if (!k)
		return NULL;
	if (p)
		memcpy(k, prefix, p);
	if (p && prefix[p - 1] != '/')
		k[p++] = '/';
	memcpy(k + p, name, n + 1);
	return k;
}

/* Start a new current event file (the first has no suffix). */
static int new_event_file(struct gnarl_metrics *m)
{
	char name[256 + 32];
	int n = gnarl_tfevents_filename(name, sizeof(name) - 16, m->created, m->host);
	struct evfile *files = realloc(m->files, (m->n_files + 1) * sizeof(*files));
	struct evfile *f;

	if (!files)
		return GNARL_ENOMEM;
	m->files = files;
	if (n < 0)
		return GNARL_EINVAL;
	if (m->files_made)
		snprintf(name + n, sizeof(name) - (size_t)n, ".%zu", m->files_made);
	f = &m->files[m->n_files];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	if (!f->name || gnarl_tfevents_create(gnarl_clock_wall(), &f->ev) < 0) {
		free(f->name);
		return GNARL_ENOMEM;
	}
	f->dirty = true;
	m->n_files++;
	m->files_made++;
	return 0;
}

static void read_section(struct gnarl_metrics *m, const struct gnarl_value *section)
{
	const struct gnarl_value *v;

	m->tensorboard = true;
	m->episodes = true;
	v = gnarl_value_get(section, "upload_every");
	if (v && v->type == GNARL_VALUE_INT && v->as.i > 0)
		m->upload_every = v->as.i;
	v = gnarl_value_get(section, "tensorboard");
	if (v && v->type == GNARL_VALUE_BOOL)
		m->tensorboard = v->as.b;
	v = gnarl_value_get(section, "episodes");
	if (v && v->type == GNARL_VALUE_BOOL)
		m->episodes = v->as.b;
}

int gnarl_metrics_create(const struct gnarl_value *section, struct gnarl_storage *st,
                         const char *run_prefix, bool remote, struct gnarl_metrics **out,
                         char err[GNARL_ERR_SIZE])
{
	struct gnarl_metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return gnarl_err(err, GNARL_ENOMEM, "metrics: out of memory");
	m->st = st;
	m->prefix = run_prefix ? run_prefix : "";
	m->remote = remote;
	read_section(m, section);
	if (gethostname(m->host, sizeof(m->host) - 1) < 0 || !m->host[0])
		snprintf(m->host, sizeof(m->host), "localhost");
	for (char *c = m->host; *c; c++)
		if (*c == '/')
			*c = '_';
	m->created = (int64_t)time(NULL);
	if (st && m->tensorboard && new_event_file(m) < 0) {
		gnarl_metrics_free(m);
		return gnarl_err(err, GNARL_ENOMEM,
		                 "metrics: out of memory creating the event file");
	}
	*out = m;
	return 0;
}

void gnarl_metrics_free(struct gnarl_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->s[i].name);
	for (size_t i = 0; i < m->n_files; i++) {
		free(m->files[i].name);
		gnarl_tfevents_free(m->files[i].ev);
	}
	free(m->files);
	free(m->s);
	free(m->cols);
	free(m->csv.p);
	free(m->tags);
	free(m->values);
	free(m);
}

/* Append " label value" to a group when name was set this iteration. */
static void group_add(char *g, size_t size, const struct gnarl_metrics *m, const char *label,
                      const char *name, const char *fmt)
{
	const struct scalar *x = find(m, name);
	size_t at = strlen(g);

	if (!x || !x->set || !isfinite(x->value) || at + 1 >= size)
		return;
	at += (size_t)snprintf(g + at, size - at, "%s%s ", at ? " " : "", label);
	if (at < size)
		snprintf(g + at, size - at, fmt, x->value);
}

/* Append a non-empty group to the line, " | "-separated. */
static void line_add(char *line, const char *g)
{
	size_t at = strlen(line);

	if (*g && at < LINE_MAX_LEN)
		snprintf(line + at, LINE_MAX_LEN - at, " | %s", g);
}

/* LLM guidance: each source's requests and suggestions so far, from the
 * "<source>/requests" and "<source>/suggestions" gauges guidance publishes. */
static void llm_group(char *g, size_t size, const struct gnarl_metrics *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct scalar *x = &m->s[i];
		const char *slash = strrchr(x->name, '/');
		const struct scalar *sugg;
		char name[256];
		size_t at = strlen(g);

		if (!x->set || !slash || strcmp(slash, "/requests") != 0 || at + 1 >= size)
			continue;
		snprintf(name, sizeof(name), "%.*s/suggestions", (int)(slash - x->name), x->name);
		sugg = find(m, name);
		snprintf(g + at, size - at, "%s%.*s %.0f req %.0f sugg", at ? " " : "llm ",
		         (int)(slash - x->name), x->name, x->value,
		         sugg && sugg->set ? sugg->value : 0.0);
	}
}

/* The iteration's line ("iter 7 | steps 28672 | sps ... | return ... |
 * pi ... | reward ... | llm ..."), kept for gnarl_metrics_line. */
static void progress_line(struct gnarl_metrics *m, uint64_t iteration, uint64_t env_steps)
{
	char *line = m->line, g[LINE_MAX_LEN / 2];

	snprintf(line, LINE_MAX_LEN, "iter %llu | steps %llu", (unsigned long long)iteration,
	         (unsigned long long)env_steps);
	g[0] = '\0';
	group_add(g, sizeof(g), m, "sps", "sps", "%.0f");
	line_add(line, g);
	g[0] = '\0';
	group_add(g, sizeof(g), m, "return", "ep_return_mean", "%.2f");
	group_add(g, sizeof(g), m, "len", "ep_len_mean", "%.1f");
	line_add(line, g);
	g[0] = '\0';
	group_add(g, sizeof(g), m, "pi", "policy_loss", "%.4g");
	group_add(g, sizeof(g), m, "v", "value_loss", "%.4g");
	group_add(g, sizeof(g), m, "ent", "entropy", "%.4g");
	group_add(g, sizeof(g), m, "kl", "approx_kl", "%.3g");
	line_add(line, g);
	g[0] = '\0';
	for (size_t i = 0; i < m->n; i++) {
		const struct scalar *x = &m->s[i];
		size_t at = strlen(g);

		if (x->set && isfinite(x->value) && strncmp(x->name, "reward/", 7) == 0 &&
		    at + 1 < sizeof(g))
			snprintf(g + at, sizeof(g) - at, "%s%s %.3g", at ? " " : "reward ",
			         x->name + 7, x->value);
	}
	line_add(line, g);
	g[0] = '\0';
	llm_group(g, sizeof(g), m);
	line_add(line, g);
}

const char *gnarl_metrics_line(const struct gnarl_metrics *m)
{
	return m->line;
}

static int csv_header(struct gnarl_metrics *m)
{
	int rc = 0;

	m->cols = malloc((m->n ? m->n : 1) * sizeof(*m->cols));
	if (!m->cols)
		return GNARL_ENOMEM;
	rc |= sbuf_str(&m->csv, "iteration,env_steps");
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->s[i].name, "iteration") == 0 ||
		    strcmp(m->s[i].name, "env_steps") == 0)
			continue;
		m->cols[m->n_cols++] = i;
		rc |= sbuf_add(&m->csv, ",", 1);
		rc |= csv_field(&m->csv, m->s[i].name);
	}
	rc |= sbuf_add(&m->csv, "\n", 1);
	m->header_done = true;
	m->csv_dirty = true;
	return rc ? GNARL_ENOMEM : 0;
}

static int csv_row(struct gnarl_metrics *m, uint64_t iteration, uint64_t env_steps)
{
	size_t mark = m->csv.len;
	char cell[64];
	int rc = 0;

	snprintf(cell, sizeof(cell), "%llu,%llu", (unsigned long long)iteration,
	         (unsigned long long)env_steps);
	rc |= sbuf_str(&m->csv, cell);
	for (size_t c = 0; c < m->n_cols; c++) {
		const struct scalar *x = &m->s[m->cols[c]];

		rc |= sbuf_add(&m->csv, ",", 1);
		if (x->set) {
			format_value(cell, sizeof(cell), x->value);
			rc |= sbuf_str(&m->csv, cell);
		}
	}
	rc |= sbuf_add(&m->csv, "\n", 1);
	if (rc) {
		m->csv.len = mark; /* drop the partial row */
		if (m->csv.p)
			m->csv.p[mark] = '\0';
		return GNARL_ENOMEM;
	}
	m->csv_dirty = true;
	return 0;
}

/* The event file to append to: a new one once the current is full. */
static struct evfile *event_file(struct gnarl_metrics *m)
{
	size_t len;

	gnarl_tfevents_data(m->files[m->n_files - 1].ev, &len);
	if (len >= EVENT_FILE_CAP && new_event_file(m) < 0)
		return NULL;
	return &m->files[m->n_files - 1];
}

static int add_event(struct gnarl_metrics *m, uint64_t env_steps)
{
	struct evfile *f;
	size_t k = 0;
	int rc;

	if (!m->n_files)
		return 0;
	f = event_file(m);
	if (!f)
		return GNARL_ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		if (!m->s[i].set)
			continue;
		m->tags[k] = m->s[i].name;
		m->values[k++] = (float)m->s[i].value;
	}
	rc = gnarl_tfevents_add_scalars(f->ev, gnarl_clock_wall(), (int64_t)env_steps, m->tags,
	                                m->values, k);
	if (rc == 0)
		f->dirty = true;
	return rc;
}

int gnarl_metrics_add_image(struct gnarl_metrics *m, const char *tag, uint64_t step,
                            uint32_t width, uint32_t height, const void *data, size_t len)
{
	struct evfile *f;

	if (!m || !m->n_files)
		return 0;
	f = event_file(m);
	if (!f || gnarl_tfevents_add_image(f->ev, gnarl_clock_wall(), (int64_t)step, tag, width,
	                                   height, 3, data, len) < 0)
		return GNARL_ENOMEM;
	f->dirty = true;
	return 0;
}

static int put_file(struct gnarl_metrics *m, const char *name, const void *data, size_t len,
                    char err[GNARL_ERR_SIZE])
{
	char *key = join_key(m->prefix, name);
	int rc;

	if (!key)
		return gnarl_err(err, GNARL_ENOMEM, "metrics: out of memory");
	rc = gnarl_storage_put(m->st, key, data, len, err);
	if (rc < 0)
		gnarl_err_prefix(err, rc,
		                 "metrics: uploading %s (kept in memory, tried again later): ", key);
	free(key);
	return rc;
}

/* The store could not be reached at all (after the plugin's own
 * retries): the other files would only wait out the same retries. */
static bool unreachable(int rc)
{
	return rc == GNARL_ECONN || rc == GNARL_ETIMEDOUT || rc == GNARL_EAGAIN;
}

static int upload(struct gnarl_metrics *m, char err[GNARL_ERR_SIZE])
{
	char later[GNARL_ERR_SIZE]; /* messages after the first failure */
	int first = 0, rc;
	size_t keep = 0;

	if (!m->st)
		return 0;
	m->since_upload = 0;
	m->upload_start = gnarl_clock_monotonic();
	if (m->csv_dirty) {
		rc = put_file(m, "progress.csv", m->csv.p, m->csv.len, err);
		if (rc == 0)
			m->csv_dirty = false;
		first = rc;
	}
	for (size_t i = 0; i < m->n_files; i++) {
		struct evfile *f = &m->files[i];
		const void *data;
		size_t len;

		if (f->dirty && !unreachable(first)) {
			data = gnarl_tfevents_data(f->ev, &len);
			rc = put_file(m, f->name, data, len, first < 0 ? later : err);
			if (rc == 0)
				f->dirty = false;
			else if (first == 0)
				first = rc;
		}
		/* A sealed file, once stored, is no longer needed in memory. */
		if (i + 1 < m->n_files && !f->dirty) {
			free(f->name);
			gnarl_tfevents_free(f->ev);
		} else {
			m->files[keep++] = *f;
		}
	}
	m->n_files = keep;
	m->upload_cost = gnarl_clock_monotonic() - m->upload_start;
	m->uploaded_once = true;
	m->retry_after = first < 0 ? gnarl_clock_monotonic() + GNARL_METRICS_RETRY_S : 0.0;
	return first;
}

static bool upload_due(const struct gnarl_metrics *m)
{
	if (m->retry_after > 0.0 && gnarl_clock_monotonic() < m->retry_after)
		return false;
	if (m->upload_every > 0)
		return m->since_upload >= m->upload_every;
	if (m->remote)
		return false;
	return !m->uploaded_once ||
	       gnarl_clock_monotonic() - m->upload_start >= 10.0 * m->upload_cost;
}

int gnarl_metrics_flush(struct gnarl_metrics *m, uint64_t iteration, uint64_t env_steps,
                        char err[GNARL_ERR_SIZE])
{
	struct scalar *sps;
	double t = gnarl_clock_monotonic();
	int rc = 0, rc2;

	sps = find(m, "sps");
	if (!sps || !sps->set) {
		double dt = t - m->last_flush_time;
		gnarl_metrics_set(m, "sps",
		                  m->flushed_once && dt > 0 && env_steps >= m->last_flush_steps
		                      ? (double)(env_steps - m->last_flush_steps) / dt
		                      : NAN);
	}
	m->last_flush_time = t;
	m->last_flush_steps = env_steps;
	m->flushed_once = true;
	progress_line(m, iteration, env_steps);
	if (m->st) {
		if (!m->header_done)
			rc = csv_header(m);
		if (rc == 0)
			rc = csv_row(m, iteration, env_steps);
		rc2 = add_event(m, env_steps);
		if (rc == 0)
			rc = rc2;
		if (rc < 0)
			gnarl_err(err, rc,
			          "metrics: out of memory: iteration %llu is missing from "
			          "progress.csv or the event file",
			          (unsigned long long)iteration);
	}
	for (size_t i = 0; i < m->n; i++)
		m->s[i].set = false;
	m->since_upload++;
	if (m->st && upload_due(m)) {
		char later[GNARL_ERR_SIZE];

		rc2 = upload(m, rc < 0 ? later : err);
		if (rc == 0)
			rc = rc2;
	}
	return rc;
}

int gnarl_metrics_sync(struct gnarl_metrics *m, char err[GNARL_ERR_SIZE])
{
	return upload(m, err);
}
