/*
 * floor - the least a durable queue can do, as a yardstick for mq.
 *
 *   floor put DIR [N]    N times: open tmp file, write 100 bytes, fsync,
 *                        rename into DIR/new, fsync DIR/new (N=1: one message
 *                        per process, the shell-loop case)
 *   floor putl DIR MODE  one message per stdin line, in one process; MODE is
 *                        none (no fsync), batch (syncfs + one dir fsync per
 *                        1024 messages) or full (fsync file and dir each)
 *   floor drain DIR      readdir DIR/new, rename each into DIR/cur, read it,
 *                        unlink it
 *
 * No locks, no priorities, no leases, no buckets: what is left when a queue
 * is nothing but files.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int dfd, newfd, tmpfd, curfd;
static unsigned long long seq;

static void
name(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "%lld.%09ld.%d.%llu", (long long)ts.tv_sec,
	    ts.tv_nsec, (int)getpid(), seq++);
}

/* Write one message into tmp/; publish it at once unless n is kept. */
static void
put(const char *body, size_t len, int fsyncfile, char *keep)
{
	char buf[96], *n = keep ? keep : buf;
	int fd;

	name(n, 96);
	if ((fd = openat(tmpfd, n, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) == -1)
		err(1, "open");
	if (write(fd, body, len) != (ssize_t)len)
		err(1, "write");
	if (fsyncfile && fsync(fd) == -1)
		err(1, "fsync");
	close(fd);
	if (keep == NULL && renameat(tmpfd, n, newfd, n) == -1)
		err(1, "rename");
}

/* Group commit: the data of the batch, then its names, then one dir sync. */
static void
commit(char (*names)[96], size_t n)
{
	size_t i;

	if (syncfs(tmpfd) == -1)
		err(1, "syncfs");
	for (i = 0; i < n; i++)
		if (renameat(tmpfd, names[i], newfd, names[i]) == -1)
			err(1, "rename");
	if (fsync(newfd) == -1)
		err(1, "fsync");
}

int
main(int argc, char *argv[])
{
	static char buf[65536], names[1024][96];
	char *line = NULL;
	size_t cap = 0, batch = 0;
	ssize_t len;
	struct dirent *de;
	DIR *d;
	int i, n, fd, mode;

	if (argc < 3)
		errx(64, "usage: floor put|putl|drain dir [n|mode]");
	mkdirat(AT_FDCWD, argv[2], 0777);
	if ((dfd = open(argv[2], O_RDONLY | O_DIRECTORY)) == -1)
		err(1, "%s", argv[2]);
	mkdirat(dfd, "tmp", 0777);
	mkdirat(dfd, "new", 0777);
	mkdirat(dfd, "cur", 0777);
	tmpfd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY);
	newfd = openat(dfd, "new", O_RDONLY | O_DIRECTORY);
	curfd = openat(dfd, "cur", O_RDONLY | O_DIRECTORY);
	if (tmpfd == -1 || newfd == -1 || curfd == -1)
		err(1, "open");

	if (strcmp(argv[1], "put") == 0) {
		n = argc > 3 ? atoi(argv[3]) : 1;
		memset(buf, 'x', 100);
		for (i = 0; i < n; i++) {
			put(buf, 100, 1, NULL);
			if (fsync(newfd) == -1)
				err(1, "fsync");
		}
	} else if (strcmp(argv[1], "putl") == 0) {
		mode = argc > 3 && strcmp(argv[3], "full") == 0 ? 2 :
		    argc > 3 && strcmp(argv[3], "batch") == 0 ? 1 : 0;
		while ((len = getline(&line, &cap, stdin)) != -1) {
			put(line, len > 0 ? (size_t)len - 1 : 0, mode == 2,
			    mode == 1 ? names[batch] : NULL);
			if (mode == 2 && fsync(newfd) == -1)
				err(1, "fsync");
			if (mode == 1 && ++batch == 1024) {
				commit(names, batch);
				batch = 0;
			}
		}
		if (mode == 1 && batch > 0)
			commit(names, batch);
	} else if (strcmp(argv[1], "drain") == 0) {
		if ((d = fdopendir(newfd)) == NULL)
			err(1, "opendir");
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (renameat(newfd, de->d_name, curfd, de->d_name) == -1)
				continue;
			if ((fd = openat(curfd, de->d_name, O_RDONLY)) == -1)
				err(1, "open");
			if (read(fd, buf, sizeof(buf)) == -1)
				err(1, "read");
			close(fd);
			if (unlinkat(curfd, de->d_name, 0) == -1)
				err(1, "unlink");
		}
	} else
		errx(64, "unknown mode %s", argv[1]);
	return 0;
}
