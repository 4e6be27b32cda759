/*
 * mq-stat - count the messages of queues, per state: as a table, as JSON,
 * for Prometheus, or as a table refreshed every few seconds with rates.
 *
 * The rates are the flow through ready, the one state whose arrivals leave
 * a trace: the tail records count the messages made ready (mq_stat's
 * ready_in).  What left ready is then what came in less what it grew by.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mq.h"
#include "tool.h"

struct row {
	char		 name[MQ_QUEUE_MAX + 1];
	struct mq_stat	 st;
	int64_t		 at;		/* CLOCK_MONOTONIC ms of the count */
};

static void __attribute__((noreturn))
usage(int help)
{
	usage_exit(help, "[-j | -P | -w seconds [-c count]] "
	    "[-d dir] [queue ...]");
}

/* Sleep until mono_ms() reaches ms. */
static void
sleep_until(int64_t ms)
{
	struct timespec ts;
	int64_t d = ms - mono_ms();

	if (d <= 0)
		return;
	ts.tv_sec = d / 1000;
	ts.tv_nsec = d % 1000 * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Age of the oldest ready message in seconds, -1 when none is ready. */
static int64_t
age(const struct mq_stat *st)
{
	int64_t a = time(NULL) - st->oldest;

	if (st->oldest == 0)
		return -1;
	return a < 0 ? 0 : a;
}

/*
 * Count the queues named, or every queue of the spool; a queue that
 * cannot be counted is reported and left out.  Returns the exit status.
 */
static int
count(const char *spool, int argc, char **argv, struct row **rows,
    size_t *nrows)
{
	char **names = argv;
	struct mq_conferr ce;
	struct mq_queue *q;
	struct row *r;
	size_t n = (size_t)argc, i;
	int status = 0, all = argc == 0;

	if (all && mq_list_queues(spool, &names, &n) == -1)
		errx(mq_exit_status(errno), "%s: %s", spool,
		    mq_strerror(errno));
	if ((r = calloc(n ? n : 1, sizeof(*r))) == NULL)
		err(MQ_EX_TEMPFAIL, NULL);
	*rows = r;
	for (i = 0; i < n; i++) {
		check_queue_name(names[i]);
		if ((q = mq_queue_open(spool, names[i], 0, &ce)) == NULL) {
			if (errno == MQ_ECONFIG)
				die_conf(&ce);
			/* listing all: a directory that is no queue is left */
			if (all && errno == MQ_ENOQUEUE)
				continue;
			warnx("%s: %s", names[i], mq_strerror(errno));
			status = mq_exit_status(errno);
			continue;
		}
		if (mq_stat(q, &r->st) == -1) {
			warnx("%s: cannot count: %s", names[i],
			    mq_strerror(errno));
			status = mq_exit_status(errno);
		} else {
			r->at = mono_ms();
			strlcpy(r->name, names[i], sizeof(r->name));
			r++;
		}
		mq_queue_close(q);
	}
	*nrows = (size_t)(r - *rows);
	if (all) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return status;
}

static int
limited(const struct mq_stat *st)
{
	return st->max_length > 0 || st->max_length_bytes > 0;
}

static const char *
overflow_name(int o)
{
	return o == MQ_OVERFLOW_DEAD_OLDEST ? "dead-oldest" : "reject";
}

/*
 * A size as mq.conf(5) takes it, in the largest unit that divides it, B
 * for bytes, so that it never reads as a count of messages.
 */
static void
size_str(long long n, char *buf, size_t len)
{
	static const char units[] = "KMG";
	int u = -1;

	while (u < 2 && n > 0 && n % 1024 == 0) {
		n /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%lldB", n);
	else
		snprintf(buf, len, "%lld%c", n, units[u]);
}

/* The LIMIT column: max_length, max_length_bytes, or both as N/SIZE. */
static void
limit_str(const struct mq_stat *st, char *buf, size_t len)
{
	char sz[32];

	size_str(st->max_length_bytes, sz, sizeof(sz));
	if (!limited(st))
		strlcpy(buf, "-", len);
	else if (st->max_length_bytes == 0)
		snprintf(buf, len, "%lld", st->max_length);
	else if (st->max_length == 0)
		strlcpy(buf, sz, len);
	else
		snprintf(buf, len, "%lld/%s", st->max_length, sz);
}

/*
 * How full the backlog is, in percent of the nearer limit; -1 when there
 * is no limit or no count to trust (a recount is due: see mq(7)).
 */
static long long
fullness(const struct mq_stat *st)
{
	long long p = -1, b;

	if (!limited(st) || !st->backlog_known)
		return -1;
	if (st->max_length > 0)
		p = st->backlog * 100 / st->max_length;
	if (st->max_length_bytes > 0 &&
	    (b = st->backlog_bytes * 100 / st->max_length_bytes) > p)
		p = b;
	return p;
}

/*
 * Queue names need no escaping, in JSON strings or Prometheus label values:
 * the name grammar (mq(7)) has no quote, backslash or control character.
 */
static void
json(const struct row *r)
{
	const struct mq_stat *st = &r->st;

	printf("{\"queue\":\"%s\",\"ready\":%lld,\"delayed\":%lld,"
	    "\"inflight\":%lld,\"dead\":%lld,\"held\":%lld,\"done\":%lld,"
	    "\"prepared\":%lld,\"oldest\":", r->name, st->count[MQ_READY],
	    st->count[MQ_DELAYED], st->count[MQ_INFLIGHT], st->count[MQ_DEAD],
	    st->count[MQ_HELD], st->count[MQ_DONE], st->count[MQ_PREPARED]);
	if (age(st) < 0)
		printf("null");
	else
		printf("%lld", (long long)age(st));
	printf(",\"bytes\":%lld,\"done_bytes\":%lld,\"paused\":%s",
	    st->bytes, st->done_bytes, st->paused ? "true" : "false");
	/* only a queue with a limit has these: others print as before */
	if (limited(st)) {
		printf(",\"max_length\":%lld,\"max_length_bytes\":%lld,"
		    "\"overflow\":\"%s\",\"backlog\":", st->max_length,
		    st->max_length_bytes, overflow_name(st->overflow));
		if (st->backlog_known)
			printf("%lld,\"backlog_bytes\":%lld", st->backlog,
			    st->backlog_bytes);
		else
			printf("null,\"backlog_bytes\":null");
	}
	printf("}\n");
}

/*
 * The Prometheus text format: each family once, its HELP and TYPE first,
 * then one sample per queue (per queue and state for mq_messages).
 */
static void
prom(const struct row *r, size_t n)
{
	static const char *const fam[][3] = {
		{ "mq_oldest_ready_age_seconds", "gauge", "Age of the oldest "
		    "ready message in seconds, 0 when none is ready." },
		{ "mq_body_bytes", "gauge", "Total size of the message "
		    "bodies in bytes." },
		{ "mq_ready_in_total", "counter", "Times a message was made "
		    "ready: put, due, nacked, reclaimed or kicked." },
		{ "mq_paused", "gauge", "1 while the queue is paused "
		    "(mq-pause), else 0." },
		{ "mq_done_bytes", "gauge", "Total size of the done "
		    "messages kept for replay (retain) in bytes." },
	};
	static const char *const lim[][2] = {
		{ "mq_max_length", "The max_length of mq.conf(5), 0: none." },
		{ "mq_max_length_bytes", "The max_length_bytes of mq.conf(5), "
		    "0: none." },
		{ "mq_backlog_messages", "Messages ready, delayed or waiting "
		    "their group's turn, as the limit counts them." },
		{ "mq_backlog_bytes", "Their bytes, as the limit counts them." },
	};
	long long v[5];
	size_t i, f;
	int s, anylimit = 0;

	printf("# HELP mq_messages Messages in the queue, by state.\n"
	    "# TYPE mq_messages gauge\n");
	for (i = 0; i < n; i++)
		for (s = 0; s < MQ_NSTATES; s++)
			printf("mq_messages{queue=\"%s\",state=\"%s\"} %lld\n",
			    r[i].name, mq_state_name(s), r[i].st.count[s]);
	for (f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		printf("# HELP %s %s\n# TYPE %s %s\n", fam[f][0], fam[f][2],
		    fam[f][0], fam[f][1]);
		for (i = 0; i < n; i++) {
			v[0] = age(&r[i].st) < 0 ? 0 : age(&r[i].st);
			v[1] = r[i].st.bytes;
			v[2] = r[i].st.ready_in;
			v[3] = r[i].st.paused;
			v[4] = r[i].st.done_bytes;
			printf("%s{queue=\"%s\"} %lld\n", fam[f][0], r[i].name,
			    v[f]);
		}
	}
	for (i = 0; i < n; i++)
		anylimit |= limited(&r[i].st);
	/* the families of limits only where some queue has one */
	for (f = 0; anylimit && f < sizeof(lim) / sizeof(lim[0]); f++) {
		printf("# HELP %s %s\n# TYPE %s gauge\n", lim[f][0], lim[f][1],
		    lim[f][0]);
		for (i = 0; i < n; i++) {
			if (!limited(&r[i].st) || (f >= 2 &&
			    !r[i].st.backlog_known))
				continue;
			v[0] = r[i].st.max_length;
			v[1] = r[i].st.max_length_bytes;
			v[2] = r[i].st.backlog;
			v[3] = r[i].st.backlog_bytes;
			printf("%s{queue=\"%s\"} %lld\n", lim[f][0], r[i].name,
			    v[f]);
		}
	}
}

/*
 * One line of the table; with rates, the flow through ready since prev
 * (see Rates in mq-stat(1)), or "-" without a previous count.
 */
static void
line(const struct row *r, int width, int rates, const struct row *prev,
    int limits)
{
	const struct mq_stat *st = &r->st;
	long long in, grew;
	char oldest[32], lim[64];
	double dt;

	if (age(st) < 0)
		strlcpy(oldest, "-", sizeof(oldest));
	else
		mq_format_age(age(st), oldest, sizeof(oldest));
	printf("%-*s %7lld %7lld %8lld %6lld %6lld %6lld %8lld %6s %10lld",
	    width, r->name, st->count[MQ_READY], st->count[MQ_DELAYED],
	    st->count[MQ_INFLIGHT], st->count[MQ_DEAD], st->count[MQ_HELD],
	    st->count[MQ_DONE], st->count[MQ_PREPARED], oldest, st->bytes);
	if (rates && (prev == NULL || st->ready_in < prev->st.ready_in ||
	    r->at <= prev->at))
		printf(" %7s %7s", "-", "-");
	else if (rates) {
		in = st->ready_in - prev->st.ready_in;
		grew = st->count[MQ_READY] - prev->st.count[MQ_READY];
		/* ready grew more than counted: a foreign producer's puts */
		if (in < grew)
			in = grew;
		dt = (double)(r->at - prev->at) / 1000;
		printf(" %7.1f %7.1f", (double)in / dt,
		    (double)(in - grew) / dt);
	}
	if (limits) {
		limit_str(st, lim, sizeof(lim));
		printf(" %9s", lim);
	}
	if (limits && !limited(st))
		printf(" %5s", "-");
	else if (limits && fullness(st) < 0)
		printf(" %5s", "?");
	else if (limits)
		printf(" %4lld%%", fullness(st));
	printf("\n");
}

static void
table(const struct row *r, size_t n, int rates, const struct row *prev,
    size_t nprev)
{
	size_t i, j;
	int width = 5, limits = 0;

	for (i = 0; i < n; i++) {
		if ((int)strlen(r[i].name) > width)
			width = (int)strlen(r[i].name);
		limits |= limited(&r[i].st);
	}
	printf("%-*s %7s %7s %8s %6s %6s %6s %8s %6s %10s", width, "QUEUE",
	    "READY", "DELAYED", "INFLIGHT", "DEAD", "HELD", "DONE", "PREPARED",
	    "OLDEST", "BYTES");
	if (rates)
		printf(" %7s %7s", "IN/s", "OUT/s");
	/* a column of its own only when some queue has a limit */
	if (limits)
		printf(" %9s %5s", "LIMIT", "FULL");
	printf("\n");
	for (i = 0; i < n; i++) {
		for (j = 0; j < nprev; j++)
			if (strcmp(prev[j].name, r[i].name) == 0)
				break;
		line(&r[i], width, rates, j < nprev ? &prev[j] : NULL,
		    limits);
	}
}

/*
 * Whether a count is worth printing: some queue was counted, or none was
 * asked for and none failed (an empty spool).  A header alone, over the
 * error of the one queue asked for, would read as a count of nothing.
 */
static int
answer(int status, size_t n)
{
	return n > 0 || status == 0;
}

/* Print the table every `every' ms, `times' times or until killed. */
static int
watch(const char *spool, int argc, char **argv, int64_t every,
    long long times)
{
	struct row *rows, *prev = NULL;
	size_t n, nprev = 0;
	int64_t next = mono_ms();
	long long shown;
	int status = 0, r, tty = isatty(STDOUT_FILENO);

	for (shown = 0; times == 0 || shown < times; shown++) {
		if (shown > 0) {
			/* keep to the clock, unless counting is slower */
			if ((next += every) < mono_ms())
				next = mono_ms();
			sleep_until(next);
		}
		if ((r = count(spool, argc, argv, &rows, &n)) != 0)
			status = r;
		if (!answer(r, n)) {
			free(rows);
			rows = NULL;
			n = 0;
			continue;
		}
		/* like watch(1) on a terminal; else a log of tables */
		if (tty)
			printf("\033[H\033[2J");
		else if (shown > 0)
			printf("\n");
		table(rows, n, 1, prev, nprev);
		if (fflush(stdout) == EOF)
			err(MQ_EX_IOERR, "stdout");
		free(prev);
		prev = rows;
		nprev = n;
	}
	free(prev);
	return status;
}

int
main(int argc, char *argv[])
{
	char spool[PATH_MAX];
	struct row *rows;
	const char *dir = NULL, *errstr;
	size_t n, i;
	long long times = 0;
	int64_t every = 0;
	int ch, json_out = 0, prom_out = 0, status;

	while ((ch = getopt(argc, argv, "PVc:d:hjw:")) != -1) {
		switch (ch) {
		case 'P':
			prom_out = 1;
			break;
		case 'V':
			version();
		case 'c':
			times = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr != NULL)
				errx(MQ_EX_USAGE, "count %s: %s", optarg,
				    errstr);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(1);
		case 'j':
			json_out = 1;
			break;
		case 'w':
			if (mq_parse_duration(optarg, &every) == -1 ||
			    every == 0)
				errx(MQ_EX_USAGE, "%s: bad interval", optarg);
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (json_out + prom_out + (every > 0) > 1 || (times && !every))
		usage(0);
	spool_path(dir, spool, sizeof(spool));
	if (every > 0)
		status = watch(spool, argc, argv, every, times);
	else {
		status = count(spool, argc, argv, &rows, &n);
		if (prom_out && answer(status, n))
			prom(rows, n);
		for (i = 0; json_out && i < n; i++)
			json(&rows[i]);
		if (!prom_out && !json_out && answer(status, n))
			table(rows, n, 0, NULL, 0);
		free(rows);
	}
	close_stdout();
	return status;
}
