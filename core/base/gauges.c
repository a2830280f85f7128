/*
 * gauges.c - a fixed table of named values behind one mutex.  Plugins set
 * them from their own threads; metrics reads a snapshot once per
 * iteration.  The table never allocates after create.
 */
#include "gauges.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

#define GAUGES_MAX 256
#define GAUGE_NAME_MAX 64

struct gauge {
	char name[GAUGE_NAME_MAX];
	double value;
};

struct gnarl_gauges {
	pthread_mutex_t lock;
	size_t count;
	struct gauge items[GAUGES_MAX];
};

int gnarl_gauges_create(struct gnarl_gauges **out)
{
	struct gnarl_gauges *g = calloc(1, sizeof(*g));

	if (!g)
		return GNARL_ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	*out = g;
	return 0;
}

void gnarl_gauges_free(struct gnarl_gauges *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void gnarl_gauges_set(struct gnarl_gauges *g, const char *name, double value)
{
	size_t i;

	if (!g || !name)
		return;
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < g->count; i++)
		if (strncmp(g->items[i].name, name, GAUGE_NAME_MAX - 1) == 0)
			break;
	if (i == g->count && g->count < GAUGES_MAX) {
		strncpy(g->items[i].name, name, GAUGE_NAME_MAX - 1);
		g->count++;
	}
	if (i < g->count)
		g->items[i].value = value;
	pthread_mutex_unlock(&g->lock);
}

void gnarl_gauges_each(struct gnarl_gauges *g,
                       void (*each)(void *ctx, const char *name, double value),
                       void *ctx)
{
	struct gauge snapshot[GAUGES_MAX];
	size_t n;

	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	n = g->count;
	memcpy(snapshot, g->items, n * sizeof(snapshot[0]));
	pthread_mutex_unlock(&g->lock);
	for (size_t i = 0; i < n; i++)
		each(ctx, snapshot[i].name, snapshot[i].value);
}
