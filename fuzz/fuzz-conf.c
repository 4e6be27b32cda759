/*
 * fuzz-conf - mq.conf(5) files, through mq_conf_load and its own line
 * reader under inih.
 *
 * Each input is written as the file mq.conf of a scratch directory (on
 * /dev/shm when there is one) and loaded over the defaults, as a queue's
 * file is.  Invariants checked:
 * - a file that fails leaves the configuration as it was, and says why,
 *   at a line the file has (or 0: the whole file);
 * - a file that loads gives values in the ranges mq.conf(5) documents, and
 *   loading it again over the result changes nothing;
 * - no descriptor outlives the load.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mq.h"
#include "fuzz.h"

#define DURATION_MAX	(INT64_C(100) * 365 * 86400 * 1000)

static char dir[64];
static int dfd = -1;

static void
cleanup(void)
{
	if (dfd != -1)
		unlinkat(dfd, "mq.conf", 0);
	rmdir(dir);
}

static int
same(const struct mq_conf *a, const struct mq_conf *b)
{
	return a->lease_ms == b->lease_ms && a->backoff_ms == b->backoff_ms &&
	    a->backoff_max_ms == b->backoff_max_ms && a->ttl_ms == b->ttl_ms &&
	    a->dedup_window_ms == b->dedup_window_ms &&
	    a->max_size == b->max_size && a->max_attempts == b->max_attempts &&
	    a->sync == b->sync && a->bucket_size == b->bucket_size &&
	    a->mode == b->mode && a->gid == b->gid &&
	    a->wait_poll == b->wait_poll &&
	    a->poll_interval_ms == b->poll_interval_ms &&
	    a->rate_us == b->rate_us &&
	    a->prepare_timeout_ms == b->prepare_timeout_ms &&
	    a->prepare_max == b->prepare_max;
}

static int
duration_ok(int64_t ms, int64_t min)
{
	return ms >= min && ms <= DURATION_MAX;
}

static void
check_values(const struct mq_conf *c)
{
	CHECK(duration_ok(c->lease_ms, MQ_LEASE_MIN));
	CHECK(duration_ok(c->backoff_ms, 0));
	CHECK(duration_ok(c->backoff_max_ms, 0));
	CHECK(duration_ok(c->ttl_ms, 0));
	CHECK(duration_ok(c->dedup_window_ms, 0));
	CHECK(duration_ok(c->poll_interval_ms, 1));
	CHECK(duration_ok(c->prepare_timeout_ms, 1));
	CHECK(c->prepare_max >= 1 && c->prepare_max <= 1000000);
	CHECK(c->max_size >= 0 && c->max_size <= INT64_C(1) << 40);
	CHECK(c->max_attempts >= 0 && c->max_attempts <= 1000000);
	CHECK(c->bucket_size >= 1 && c->bucket_size <= 1000000);
	CHECK(c->sync == MQ_SYNC_NONE || c->sync == MQ_SYNC_BATCH ||
	    c->sync == MQ_SYNC_FULL);
	CHECK(c->mode >= -1 && c->mode <= 0777);
	CHECK(c->wait_poll == 0 || c->wait_poll == 1);
	/* 0: no limit; else a token every 1 us (1000000/s) to 1 h (1/h) */
	CHECK(c->rate_us >= 0 && c->rate_us <= INT64_C(3600000000));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mq_conferr err;
	struct mq_conf c;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/mq-fuzz-conf.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		perror(dir);
		exit(1);
	}
	atexit(cleanup);
	/* a missing file is no error unless it must exist */
	mq_conf_defaults(&c);
	CHECK(mq_conf_load(&c, dfd, "mq.conf", 0, geteuid(), &err) == 0);
	CHECK(mq_conf_load(&c, dfd, "mq.conf", 1, geteuid(), &err) == -1 &&
	    errno == MQ_ECONFIG && err.line == 0 && err.reason[0] != '\0');
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct mq_conf c, before, again;
	struct mq_conferr err;
	size_t lines = 0, i;
	int fd, r, low = fuzz_lowest_fd();

	fd = openat(dfd, "mq.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	CHECK(fd != -1);
	CHECK(write(fd, data, n) == (ssize_t)n);
	close(fd);
	for (i = 0; i < n; i++)
		lines += data[i] == '\n' || i == n - 1;

	mq_conf_defaults(&c);
	before = c;
	r = mq_conf_load(&c, dfd, "mq.conf", 1, geteuid(), &err);
	CHECK(memchr(err.reason, '\0', sizeof(err.reason)) != NULL);
	CHECK(strcmp(err.file, "mq.conf") == 0);
	if (r == -1) {
		CHECK(errno == MQ_ECONFIG);
		CHECK(same(&c, &before));
		CHECK(err.line >= 0 && (size_t)err.line <= lines);
		CHECK(err.reason[0] != '\0');
	} else {
		CHECK(r == 0 && err.line == 0);
		check_values(&c);
		again = c;
		CHECK(mq_conf_load(&again, dfd, "mq.conf", 1, geteuid(),
		    &err) == 0);
		CHECK(same(&c, &again));
	}
	CHECK(fuzz_lowest_fd() == low);
	return 0;
}
