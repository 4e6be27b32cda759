/*
 * work.h - what the files of mq-work share: mq-work.c (options, the loop,
 * a command per message or per batch), work-run.c (starting a command,
 * claiming, settling and renewing a message) and work-stream.c (-s, a
 * command kept running that is fed messages on a pipe).
 */
#ifndef MQ_WORK_H
#define MQ_WORK_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "mq.h"

#define EX_REJECT	100	/* a command's "never retry this message" */
#define JOBS_MAX	1024
#define BATCH_MAX	4096	/* -b: handles on one command line, or in flight */
#define STREAM_BATCH	64	/* -s without -b: unsettled per command */

/* A claimed message. */
struct wmsg {
	char	*handle;		/* malloc'd; NULL once settled */
	char	 id[MQ_ID_LEN + 1];
	int	 attempts;
	int64_t	 claimed;		/* monotonic ms of the claim */
	int64_t	 touched;		/* monotonic ms of the last renewal */
	int64_t	 sent;			/* -s: stream offset of its frame */
};

/* What every mode needs: the queue, the command, the options. */
struct work {
	const char	*queue;
	struct mq_queue	*q;
	struct mq_session *s;
	char		**cmd;		/* the command line, word for word */
	const char	*path;		/* cmd[0] as found in PATH once */
	int64_t		 lease;
	int64_t		 timeout;	/* -t: ms a stream command may take */
	int64_t		 grace;		/* -k: ms a command is given to exit */
	int		 maxjobs;
	int		 batch;		/* -b; 0: a command per message */
	int		 stream;	/* -s */
	int		 verbose;
	int		 waitfd;	/* what wakes the loop (the self-pipe) */
	int		 closed;	/* -s: the commands' input is closed */
	int		 empty;		/* a claim found nothing ready */
};

/* how a message leaves a consumer */
enum settle { S_ACK, S_NACK, S_DEAD, S_BACK, S_UNCLAIM };

/* work-run.c */
const char *resolve_cmd(const char *name);
pid_t	 spawn(struct work *, char **argv, int in, int out,
	    const struct wmsg *env, const struct mq_headers *, int *err);
int	 claim(struct work *, struct wmsg *);
int	 msg_headers(struct work *, struct wmsg *, int fd, struct mq_headers *);
int	 settle_msg(struct work *, struct wmsg *, enum settle, int64_t delay,
	    int quiet_stale);
void	 give_back(struct work *, struct wmsg *, size_t n, enum settle);
int64_t	 renew_msgs(struct work *, struct wmsg *, size_t n, int64_t now,
	    int quiet_stale);
int64_t	 least(int64_t, int64_t);
int	 exec_status(int err);

/* work-stream.c: -s */
void	 stream_init(struct work *);
size_t	 stream_room(struct work *, int64_t now, int64_t *wake);
int	 stream_claim(struct work *, size_t want, int *status);
void	 stream_reaped(struct work *, pid_t, int status);
int	 stream_io(struct work *);
int	 stream_busy(const struct work *);
size_t	 stream_unsettled(const struct work *);
void	 stream_close(struct work *);
int	 stream_kill(struct work *);
int64_t	 stream_tick(struct work *, int64_t now);

#endif
