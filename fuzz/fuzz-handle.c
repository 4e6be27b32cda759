/*
 * fuzz-handle - handles: paths given to mq_ack, mq_nack, mq_reject,
 * mq_touch, mq_kick, mq_hold and mq_release through one session.
 *
 * A scratch directory (on /dev/shm when there is one) is the working
 * directory while an input runs, with a spool and, beside it, "outside": a
 * file and a queue of another spool.  Queue q of the spool holds one
 * message in each state, queue t traps: hard links and symbolic links to
 * the outside as messages, a symbolic link as a bucket; and a symbolic
 * link to the other spool's queue stands as queue evil.  Handles are
 * relative to the scratch directory, so the corpus can name real ones:
 * spool/q/inflight/1700000000.000001.AAAAAAAA,p4,a1,s5,tTOKEN001.
 *
 * An input is lines of an operation byte and a path, run in one session
 * (which caches queues and the last directory) until one succeeds.  The
 * byte is a letter of "anrtkhl" (ack, nack, reject, touch, kick, hold,
 * release) or any other byte, which picks one too; its bits 3 and 4 pick
 * the delay of nack, the lease of touch or the queue that kick names.
 * Invariants checked:
 * - an operation fails with an error that says the handle is bad, gone or
 *   of no queue (exit status 1, 65 or 66), and when all of an input's
 *   operations fail nothing in the spool or outside it has changed: no
 *   file, directory, link count, size or time;
 * - one succeeds only on a real message of queue q in a state the
 *   operation takes (a hold says where it went: into q's held/), and
 *   then nothing outside queue q has changed;
 * - no descriptor outlives the session.
 * After a success the spool is built anew for the next input.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"
#include "fuzz.h"

#define GROUP	"0123456789abcdef0123456789abcdef"
#define A	"1700000000.000001.AAAAAAAA,p4,a1,s5,tTOKEN001"
#define B	"1700000000.000002.BBBBBBBB,p4,a1,s5,g" GROUP ",tTOKEN002"
#define C	"1700000000.000003.CCCCCCCC,p4,a0,s5"
#define D	"1700000000.000004.DDDDDDDD,p4,a0,s5,n1700000099"
#define E	"1700000000.000005.EEEEEEEE,p4,a5,s5,rattempts"
#define F	"1700000000.000006.FFFFFFFF,p4,a0,s5"
#define W	"1700000000.000013.WWWWWWWW,p4,a0,s5,g" GROUP

enum op { ACK, NACK, REJECT, TOUCH, KICK, HOLD, RELEASE, NOPS };

/* The real messages each operation may act on: directory, name. */
static const struct legit {
	unsigned	 ops;
	const char	*dir;
	const char	*name;
} legit[] = {
	{ 1U << ACK | 1U << NACK | 1U << REJECT | 1U << TOUCH | 1U << HOLD,
	    "spool/q/inflight", A },
	{ 1U << ACK | 1U << NACK | 1U << REJECT | 1U << TOUCH | 1U << HOLD,
	    "spool/q/inflight", B },
	{ 1U << HOLD, "spool/q/ready/4.0000000001", C },
	{ 1U << HOLD, "spool/q/delayed/1700000040", D },
	{ 1U << KICK, "spool/q/dead", E },
	{ 1U << RELEASE, "spool/q/held", F },
};

struct entry {
	char		 path[200];
	struct stat	 st;
};

#define NENTRIES	256
static struct entry snap[NENTRIES];
static size_t nsnap;
static char base[PATH_MAX], spool[PATH_MAX + 8];
static int home = -1;		/* libFuzzer's working directory */

static int
snap1(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)type;
	(void)ftw;
	CHECK(nsnap < NENTRIES);
	strlcpy(snap[nsnap].path, path, sizeof(snap->path));
	snap[nsnap++].st = *st;
	return 0;
}

/* Note every file, link and directory there is, as it is. */
static void
snapshot(void)
{
	nsnap = 0;
	CHECK(nftw(".", snap1, 8, FTW_PHYS) == 0);
}

/*
 * Whether everything noted under the path prefix is as it was.  No
 * directory needs reading: an entry made, removed or renamed changes its
 * directory's times, and any change to a file or link its ctime.
 */
static int
unchanged(const char *under)
{
	struct stat st;
	const struct stat *was;
	size_t i, len = strlen(under);

	for (i = 0; i < nsnap; i++) {
		if (strncmp(snap[i].path, under, len) != 0)
			continue;
		was = &snap[i].st;
		if (lstat(snap[i].path, &st) == -1 ||
		    st.st_ino != was->st_ino || st.st_mode != was->st_mode ||
		    st.st_nlink != was->st_nlink ||
		    st.st_size != was->st_size ||
		    st.st_mtim.tv_sec != was->st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != was->st_mtim.tv_nsec ||
		    st.st_ctim.tv_sec != was->st_ctim.tv_sec ||
		    st.st_ctim.tv_nsec != was->st_ctim.tv_nsec) {
			fprintf(stderr, "changed: %s\n", snap[i].path);
			return 0;
		}
	}
	return 1;
}

static void
put(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd != -1 && write(fd, "hello", 5) == 5);
	close(fd);
}

static void
queue(const char *sp, const char *name)
{
	struct mq_conferr ce;
	struct mq_queue *q;

	CHECK((q = mq_queue_open(sp, name, MQ_CREATE, &ce)) != NULL);
	mq_queue_close(q);
}

static int
rm1(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Queue q, with one message in each state. */
static void
build(void)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };

	if (access("spool/q", F_OK) == 0)
		CHECK(nftw("spool/q", rm1, 8, FTW_PHYS | FTW_DEPTH) == 0);
	queue(spool, "q");
	CHECK(mkdir("spool/q/ready/4.0000000001", 0777) == 0);
	CHECK(mkdir("spool/q/delayed/1700000040", 0777) == 0);
	CHECK(mkdir("spool/q/groups", 0777) == 0);
	CHECK(mkdir("spool/q/groups/" GROUP, 0777) == 0);
	put("spool/q/inflight/" A);
	put("spool/q/inflight/" B);
	put("spool/q/ready/4.0000000001/" C);
	put("spool/q/delayed/1700000040/" D);
	put("spool/q/dead/" E);
	put("spool/q/held/" F);
	put("spool/q/groups/" GROUP "/" W);
	/* leases that run for a while yet */
	ts[1].tv_sec = time(NULL) + 86400;
	CHECK(utimensat(AT_FDCWD, "spool/q/inflight/" A, ts, 0) == 0);
	CHECK(utimensat(AT_FDCWD, "spool/q/inflight/" B, ts, 0) == 0);
}

static void
traps(void)
{
	/*
	 * traps, in a queue of their own (a planted bucket stops every move
	 * into ready/ of its queue): links out of the spool
	 */
	queue(spool, "t");
	CHECK(link("outside/secret", "spool/t/inflight/"
	    "1700000000.000007.GGGGGGGG,p4,a1,s5,tHARDLINK") == 0);
	CHECK(symlink("../../../outside/secret", "spool/t/inflight/"
	    "1700000000.000008.HHHHHHHH,p4,a1,s5,tSYMLINK0") == 0);
	CHECK(symlink("../../../outside/secret", "spool/t/dead/"
	    "1700000000.000009.IIIIIIII,p4,a5,s5,rattempts") == 0);
	CHECK(symlink("../../../outside/secret", "spool/t/held/"
	    "1700000000.000014.XXXXXXXX,p4,a0,s5") == 0);
	CHECK(symlink("../../../outside/evil/ready/4.0000000001",
	    "spool/t/ready/4.0000000002") == 0);
	CHECK(symlink("../outside/evil", "spool/evil") == 0);
}

static void
cleanup(void)
{
	if (chdir(base) == 0)
		nftw(".", rm1, 8, FTW_PHYS | FTW_DEPTH);
	rmdir(base);
	if (home != -1)
		fchdir(home);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char conf[PATH_MAX + 16], other[PATH_MAX + 16];

	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "%s/mq-fuzz-handle.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if ((home = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    mkdtemp(base) == NULL || chdir(base) == -1 ||
	    realpath(".", base) == NULL) {
		perror(base);
		exit(1);
	}
	atexit(cleanup);
	snprintf(spool, sizeof(spool), "%s/spool", base);
	snprintf(other, sizeof(other), "%s/outside", base);
	snprintf(conf, sizeof(conf), "%s/mq.conf", base);
	put(conf);
	CHECK(truncate(conf, 0) == 0);
	setenv("MQ_CONF", conf, 1);
	/* another spool, with messages in every state, and a file */
	queue(other, "evil");
	CHECK(mkdir("outside/evil/ready/4.0000000001", 0777) == 0);
	put("outside/evil/ready/4.0000000001/" C);
	put("outside/evil/inflight/" A);
	put("outside/evil/dead/" E);
	put("outside/evil/held/" F);
	put("outside/secret");
	build();
	traps();
	snapshot();
	CHECK(fchdir(home) == 0);
	return 0;
}

/* Whether path, which an operation took, names one of the real messages. */
static int
is_legit(enum op op, const char *path)
{
	char dir[PATH_MAX], real[PATH_MAX], want[PATH_MAX + 64];
	const char *slash = strrchr(path, '/');
	size_t i;

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return 0;
	memcpy(dir, path, slash - path);
	dir[slash - path] = '\0';
	if (realpath(dir[0] ? dir : "/", real) == NULL)
		return 0;
	for (i = 0; i < sizeof(legit) / sizeof(legit[0]); i++) {
		snprintf(want, sizeof(want), "%s/%s", base, legit[i].dir);
		if ((legit[i].ops & 1U << op) && strcmp(real, want) == 0 &&
		    strcmp(slash + 1, legit[i].name) == 0)
			return 1;
	}
	return 0;
}

static enum op
opof(int c)
{
	static const char letters[] = "anrtkhl";
	const char *p = strchr(letters, c);

	return p != NULL ? (enum op)(p - letters) : (enum op)(c % NOPS);
}

static int
run(struct mq_session *s, int c, const char *path, char *held, size_t len)
{
	static const int64_t delays[] = { -1, 0, 1000, 3600000 };
	static const char *const queues[] = { NULL, "q", "evil", "" };

	switch (opof(c)) {
	case ACK:
		return mq_ack(s, path);
	case NACK:
		return mq_nack(s, path, delays[c >> 3 & 3]);
	case REJECT:
		return mq_reject(s, path);
	case TOUCH:
		return mq_touch(s, path, delays[c >> 3 & 3]);
	case KICK:
		return mq_kick(s, queues[c >> 3 & 3], path);
	case HOLD:
		return mq_hold(s, path, held, len);
	default:
		return mq_release(s, path);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct mq_session *s;
	char *in = fuzz_cstr(data, n), *line, *next, held[PATH_MAX];
	char want[PATH_MAX + 16];
	int low = fuzz_lowest_fd(), done = 0, status, op;

	CHECK(chdir(base) == 0);
	CHECK((s = mq_session_new(spool)) != NULL);
	for (line = in; line != NULL && *line != '\0' && !done; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		op = (unsigned char)line[0];
		held[0] = '\0';
		if (run(s, op, line + 1, held, sizeof(held)) == 0) {
			CHECK(is_legit(opof(op), line + 1));
			/* a held message's new path is in the same queue */
			snprintf(want, sizeof(want), "%s/q/held/", spool);
			CHECK(opof(op) != HOLD ||
			    strncmp(held, want, strlen(want)) == 0);
			done = 1;
		} else {
			status = mq_exit_status(errno);
			if (status != MQ_EX_NONE && status != MQ_EX_DATAERR &&
			    status != MQ_EX_NOINPUT)
				fprintf(stderr, "error: %s\n",
				    mq_strerror(errno));
			CHECK(status == MQ_EX_NONE ||
			    status == MQ_EX_DATAERR ||
			    status == MQ_EX_NOINPUT);
		}
	}
	CHECK(mq_session_end(s) == 0);
	if (done) {
		CHECK(unchanged("./outside"));
		CHECK(unchanged("./spool/t"));
		CHECK(unchanged("./spool/evil"));
		CHECK(unchanged("./mq.conf"));
		build();
		snapshot();
	} else
		CHECK(unchanged("."));
	CHECK(fchdir(home) == 0);
	CHECK(fuzz_lowest_fd() == low);
	free(in);
	return 0;
}
