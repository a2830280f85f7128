/*
 * dist.c - the processes of a data-parallel run (see dist.h).
 *
 * Entry points: gnarl_dist_init/_finalize, _rank/_size/_on, the
 * collectives (_bcast_string, _bcast_f32, _average_f32, _average_f64,
 * _allgather_f64, _allgather_bytes, _any) and _abort.
 *
 * Invariants: MPI is initialised only when a launcher's environment says
 * this process is one of a job, so a plain run needs no MPI runtime; all
 * communication goes through a duplicate of MPI_COMM_WORLD (a plugin that
 * uses MPI itself cannot match gnarl's messages); with one process, or
 * without MPI, every collective leaves its data untouched, so results are
 * those of a plain run bit for bit.
 */
#include "dist.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "log.h"

#ifdef GNARL_HAVE_MPI
#include <mpi.h>
#endif

struct gnarl_dist {
	int rank, size;
	bool mpi; /* MPI_Init_thread was called */
	double reduce_seconds;
#ifdef GNARL_HAVE_MPI
	MPI_Comm comm;
#endif
};

/* The job size a launcher announced: Open MPI, MPICH/Hydra (PMI) and PMIx
 * launchers (srun --mpi=pmix) each set one of these.  0: no launcher. */
static long launcher_size(const char **var)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", NULL};

	for (int i = 0; vars[i]; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v) {
			*var = vars[i];
			/* PMIx announces the rank only; the size comes from MPI. */
			return strcmp(vars[i], "PMIX_RANK") == 0 ? -1 : strtol(v, NULL, 10);
		}
	}
	return 0;
}

#ifdef GNARL_HAVE_MPI

static int start_mpi(struct gnarl_dist *d, char err[GNARL_ERR_SIZE])
{
	int provided = 0, rc;

	d->comm = MPI_COMM_NULL;
	rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
	if (rc != MPI_SUCCESS)
		return gnarl_err(err, GNARL_EIO,
		                 "MPI_Init_thread failed (code %d): is this "
		                 "process started by the mpirun of the MPI "
		                 "gnarl was built with?",
		                 rc);
	d->mpi = true;
	if (provided < MPI_THREAD_FUNNELED)
		return gnarl_err(err, GNARL_EIO,
		                 "the MPI library offers thread level %d, gnarl "
		                 "needs MPI_THREAD_FUNNELED (%d)",
		                 provided, MPI_THREAD_FUNNELED);
	MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
	MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_ARE_FATAL);
	MPI_Comm_rank(d->comm, &d->rank);
	MPI_Comm_size(d->comm, &d->size);
	return 0;
}
#endif

int gnarl_dist_init(struct gnarl_dist **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_dist *d = calloc(1, sizeof(*d));
	const char *var = NULL;
	long size = launcher_size(&var);
	int rc = 0;

	*out = NULL;
	if (!d)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	d->size = 1;
#ifdef GNARL_HAVE_MPI
	if (size != 0)
		rc = start_mpi(d, err);
#else
	/* PMIx names the rank only: any rank but 0 means a job of several */
	if (size < 0 && strtol(getenv(var), NULL, 10) != 0)
		size = 2;
	if (size > 1)
		rc = gnarl_err(err, GNARL_EUNSUPPORTED,
		               "this gnarl was built without MPI, but %s=%s says this process is "
		               "one of several of an MPI job: each would train alone.  Rebuild "
		               "with MPI (Debian: apt-get install libopenmpi-dev, then cmake "
		               "again), or run gnarl train without mpirun",
		               var, getenv(var));
	else if (size != 0)
		gnarl_log(GNARL_LOG_WARN, NULL,
		          "this gnarl was built without MPI; %s is set, so "
		          "it runs as one plain process",
		          var);
#endif
	if (rc) {
		gnarl_dist_finalize(d);
		return rc;
	}
	*out = d;
	return 0;
}

void gnarl_dist_finalize(struct gnarl_dist *d)
{
	if (!d)
		return;
#ifdef GNARL_HAVE_MPI
	if (d->mpi) {
		if (d->comm != MPI_COMM_NULL)
			MPI_Comm_free(&d->comm);
		MPI_Finalize();
	}
#endif
	free(d);
}

int gnarl_dist_rank(const struct gnarl_dist *d)
{
	return d ? d->rank : 0;
}

int gnarl_dist_size(const struct gnarl_dist *d)
{
	return d ? d->size : 1;
}

bool gnarl_dist_on(const struct gnarl_dist *d)
{
	return d && d->size > 1;
}

/* ---- collectives -------------------------------------------------------- */

void gnarl_dist_bcast_string(struct gnarl_dist *d, char **s)
{
	if (!gnarl_dist_on(d))
		return;
#ifdef GNARL_HAVE_MPI
	unsigned long long len = d->rank == 0 && *s ? strlen(*s) : 0;
	char *copy = NULL;

	MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, d->comm);
	if (d->rank != 0) {
		copy = malloc((size_t)len + 1);
		/* This rank could not take part in the second broadcast. */
		if (!copy)
			gnarl_dist_abort(d, GNARL_EXIT_FAILURE,
			                 "out of memory for a %llu-byte string", len);
	}
	MPI_Bcast(d->rank == 0 ? *s : copy, (int)len, MPI_CHAR, 0, d->comm);
	if (d->rank != 0) {
		copy[len] = '\0';
		free(*s);
		*s = copy;
	}
#else
	(void)s;
#endif
}

/* MPI counts are ints: large buffers go in chunks. */
#define CHUNK ((size_t)1 << 30)

void gnarl_dist_bcast_f32(struct gnarl_dist *d, float *x, size_t n)
{
	if (!gnarl_dist_on(d))
		return;
#ifdef GNARL_HAVE_MPI
	for (size_t i = 0; i < n; i += CHUNK)
		MPI_Bcast(x + i, (int)(n - i < CHUNK ? n - i : CHUNK), MPI_FLOAT, 0, d->comm);
#else
	(void)x;
	(void)n;
#endif
}

void gnarl_dist_average_f32(struct gnarl_dist *d, float *x, size_t n)
{
	if (!gnarl_dist_on(d))
		return;
#ifdef GNARL_HAVE_MPI
	double t0 = gnarl_clock_monotonic();
	const float inv = 1.0f / (float)d->size;

	for (size_t i = 0; i < n; i += CHUNK)
		MPI_Allreduce(MPI_IN_PLACE, x + i, (int)(n - i < CHUNK ? n - i : CHUNK), MPI_FLOAT,
		              MPI_SUM, d->comm);
	for (size_t i = 0; i < n; i++)
		x[i] *= inv;
	d->reduce_seconds += gnarl_clock_monotonic() - t0;
#else
	(void)x;
	(void)n;
#endif
}

void gnarl_dist_average_f64(struct gnarl_dist *d, double *x, size_t n)
{
	if (!gnarl_dist_on(d))
		return;
#ifdef GNARL_HAVE_MPI
	MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, d->comm);
	for (size_t i = 0; i < n; i++)
		x[i] /= d->size;
#else
	(void)x;
	(void)n;
#endif
}

void gnarl_dist_allgather_f64(struct gnarl_dist *d, const double *mine, size_t n, double *all)
{
	if (!gnarl_dist_on(d)) {
		if (all != mine)
			memcpy(all, mine, n * sizeof(double));
		return;
	}
#ifdef GNARL_HAVE_MPI
	/* MPI forbids a send buffer inside the receive buffer: in place then */
	if (mine == all + (size_t)d->rank * n)
		MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, (int)n, MPI_DOUBLE, d->comm);
	else
		MPI_Allgather(mine, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, d->comm);
#endif
}

uint8_t *gnarl_dist_allgather_bytes(struct gnarl_dist *d, const void *mine, size_t len,
                                    size_t *lens)
{
	size_t total = 0;
	uint8_t *all;

	if (!gnarl_dist_on(d)) {
		lens[0] = len;
		all = malloc(len ? len : 1);
		if (all && len)
			memcpy(all, mine, len);
		return all;
	}
#ifdef GNARL_HAVE_MPI
	unsigned long long my_len = len;
	unsigned long long *got = calloc((size_t)d->size, sizeof(*got));
	int *counts = calloc((size_t)d->size, sizeof(*counts));
	int *displs = calloc((size_t)d->size, sizeof(*displs));

	if (!got || !counts || !displs)
		gnarl_dist_abort(d, GNARL_EXIT_FAILURE, "out of memory for an allgather");
	MPI_Allgather(&my_len, 1, MPI_UNSIGNED_LONG_LONG, got, 1, MPI_UNSIGNED_LONG_LONG, d->comm);
	for (int r = 0; r < d->size; r++) {
		/* every rank sees the same sizes, so every rank stops here alike */
		if (got[r] > (unsigned long long)INT32_MAX - total)
			gnarl_dist_abort(d, GNARL_EXIT_FAILURE, "an allgather of more than 2 GiB "
			                 "(rank %d sends %llu bytes)", r, got[r]);
		lens[r] = (size_t)got[r];
		counts[r] = (int)got[r];
		displs[r] = (int)total;
		total += (size_t)got[r];
	}
	all = malloc(total ? total : 1);
	if (!all)
		gnarl_dist_abort(d, GNARL_EXIT_FAILURE, "out of memory for a %zu-byte allgather",
		                 total);
	MPI_Allgatherv(mine, (int)len, MPI_BYTE, all, counts, displs, MPI_BYTE, d->comm);
	free(got);
	free(counts);
	free(displs);
	return all;
#else
	(void)total;
	return NULL;
#endif
}

bool gnarl_dist_any(struct gnarl_dist *d, bool flag)
{
	if (!gnarl_dist_on(d))
		return flag;
#ifdef GNARL_HAVE_MPI
	int mine = flag, any = 0;

	MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, d->comm);
	return any != 0;
#else
	return flag;
#endif
}

double gnarl_dist_reduce_seconds(const struct gnarl_dist *d)
{
	return d ? d->reduce_seconds : 0.0;
}

void gnarl_dist_abort(struct gnarl_dist *d, int code, const char *fmt, ...)
{
	char msg[GNARL_ERR_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gnarl_log(GNARL_LOG_ERROR, NULL, "rank %d of %d: %s", gnarl_dist_rank(d),
	          gnarl_dist_size(d), msg);
#ifdef GNARL_HAVE_MPI
	if (d && d->mpi)
		MPI_Abort(d->comm != MPI_COMM_NULL ? d->comm : MPI_COMM_WORLD, code);
#endif
	exit(code);
}
