/*
 * mpi_collectives.c - core/dist.c's collectives under a real `mpirun -n K`
 * (K >= 2): every rank contributes data that depends on its rank and
 * checks the exact result on its side, so a collective that summed instead
 * of averaging, dropped or reordered a rank's row, or broadcast the wrong
 * rank's data fails here (the training tests only see that the ranks
 * agree, which a wrong collective keeps true).  Exit 0 and one line per
 * rank, or 1 naming what differed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

static int failures;

#define CHECK(cond, ...)                                                                 \
	do {                                                                                 \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "mpi_collectives: rank %d: ", rank);                         \
			fprintf(stderr, __VA_ARGS__);                                                \
			fputc('\n', stderr);                                                         \
			failures++;                                                                  \
		}                                                                                \
	} while (0)

int main(void)
{
	struct gnarl_dist *d;
	char err[GNARL_ERR_SIZE];
	int rank, K;

	if (gnarl_dist_init(&d, err)) {
		fprintf(stderr, "mpi_collectives: %s\n", err);
		return 1;
	}
	rank = gnarl_dist_rank(d);
	K = gnarl_dist_size(d);
	if (K < 2) {
		fprintf(stderr, "mpi_collectives: run it under mpirun -n 2 (or more)\n");
		gnarl_dist_finalize(d);
		return 1;
	}

	/* the mean of (rank + 1) * (i + 1): (K + 1) / 2 * (i + 1), exact */
	float x[5];
	for (int i = 0; i < 5; i++)
		x[i] = (float)(rank + 1) * (float)(i + 1);
	gnarl_dist_average_f32(d, x, 5);
	for (int i = 0; i < 5; i++)
		CHECK(x[i] == 0.5f * (float)(K + 1) * (float)(i + 1), "average_f32[%d] = %g", i,
		      (double)x[i]);

	/* the mean of rank and of rank squared */
	double y[2] = {rank, (double)rank * rank};
	gnarl_dist_average_f64(d, y, 2);
	CHECK(y[0] == 0.5 * (K - 1), "average_f64 of the ranks = %g", y[0]);
	CHECK(y[1] == (double)(K - 1) * (2 * K - 1) / 6.0, "average_f64 of the squares = %g", y[1]);

	/* every rank's row, rank 0's first: from a buffer of its own, and in
	 * place (this rank's row of the result, as ppo's merge passes it) */
	double mine[2] = {rank, 10.0 * rank}, *all = calloc((size_t)K * 2, sizeof(double));
	double *inplace = calloc((size_t)K * 2, sizeof(double));
	gnarl_dist_allgather_f64(d, mine, 2, all);
	inplace[2 * rank] = rank + 100.0;
	inplace[2 * rank + 1] = -rank;
	gnarl_dist_allgather_f64(d, inplace + 2 * rank, 2, inplace);
	for (int k = 0; k < K; k++) {
		CHECK(all[2 * k] == k && all[2 * k + 1] == 10.0 * k, "allgather row %d = %g %g", k,
		      all[2 * k], all[2 * k + 1]);
		CHECK(inplace[2 * k] == k + 100.0 && inplace[2 * k + 1] == -k,
		      "allgather in place row %d = %g %g", k, inplace[2 * k], inplace[2 * k + 1]);
	}
	free(all);
	free(inplace);

	/* rank 0's data everywhere */
	float w[3] = {rank == 0 ? 42.0f : -1.0f, (float)rank, 7.0f};
	gnarl_dist_bcast_f32(d, w, 3);
	CHECK(w[0] == 42.0f && w[1] == 0.0f && w[2] == 7.0f, "bcast_f32 = %g %g %g", (double)w[0],
	      (double)w[1], (double)w[2]);
	char *s = strdup(rank == 0 ? "rank zero's run name" : "mine");
	gnarl_dist_bcast_string(d, &s);
	CHECK(strcmp(s, "rank zero's run name") == 0, "bcast_string = '%s'", s);
	free(s);

	/* any: true when one rank says so, the last one here */
	CHECK(gnarl_dist_any(d, rank == K - 1), "any(only the last rank) = false");
	CHECK(!gnarl_dist_any(d, false), "any(no rank) = true");

	if (!failures)
		printf("mpi_collectives: rank %d of %d: every collective exact\n", rank, K);
	gnarl_dist_finalize(d);
	return failures ? 1 : 0;
}
