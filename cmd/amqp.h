/*
 * amqp.h - the broker side of mq-forward and mq-recv: one AMQP 0-9-1
 * connection with one channel, through librabbitmq.
 *
 * It knows urls, passwords, TLS, the [forward] and [recv] sections of
 * mq.conf(5) that give them, and how to say what went wrong; of queues it
 * knows only how to open one with its configuration.  Errors go to a
 * buffer, never to stderr, so each tool decides what to print and when.
 * The password never reaches that buffer: urls are shown as
 * scheme://user@host:port/vhost.
 */
#ifndef MQ_AMQP_H
#define MQ_AMQP_H

#include <signal.h>

#include <amqp.h>

#include "mq.h"

#define PEER_CHANNEL	1

/* mq.conf(5) [forward] and [recv]: a broker for mq-forward and mq-recv */
struct bridge {
	char	 url[1024];		/* amqp[s]://[user[:pass]@]host... */
	char	 password_file[1024];
	char	 cacert[1024];		/* amqps: a PEM file of CAs */
	int	 verify;		/* amqps: check peer and host name */
	/* who wrote the configuration that named each file (mq.conf(5)) */
	uid_t	 password_owner;
	uid_t	 cacert_owner;
	char	 exchange[256];		/* forward */
	int	 exchange_set;		/* "" is the default exchange */
	char	 routing_key[256];	/* forward */
	int	 routing_header;	/* forward: each message's routing-key */
	char	 queue[256];		/* recv: the broker's queue */
	int	 window;		/* forward: unconfirmed; 0: unset */
	int	 prefetch;		/* recv: unacked; 0: unset */
};

/*
 * open_queue (tool.h), and the [forward] (fwd) or [recv] section of the
 * queue's configuration in *b.  Both sections are checked, in every load
 * of the files to come: a bad key stops the tool, as any error of
 * mq.conf(5) does (78).  *b is what this open read.
 */
struct mq_queue *bridge_open(const char *spool, const char *name, int fwd,
	    const struct bridge **b);

/* what a failure means for the caller */
enum peer_fault {
	PEER_DOWN = 1,		/* cannot reach it, or lost it: try again */
	PEER_REFUSED,		/* it said no: login, vhost, exchange, queue */
	PEER_BADARG,		/* a bad url or password source */
	PEER_NOPASS,		/* the password file cannot be read */
	PEER_UNTRUSTED		/* a file the configuration names is not
				   its owner's (mq.conf(5)) */
};

struct peer {
	char	 shown[1400];	/* the url without its password */
	char	 host[256];
	char	 user[256];
	char	 vhost[256];
	char	 password[1024];
	char	 cacert[1024];
	int	 cafd;		/* cacert, open and checked; -1: none */
	int	 port;
	int	 tls;
	int	 verify;
	amqp_connection_state_t conn;	/* NULL while disconnected */
	int	 fault;		/* enum peer_fault of the last failure */
	char	 why[5000];	/* and what it was: may name a file */
	char	 said[5000];	/* the last trouble told, or "" */
	int64_t	 backoff;	/* ms before the next try; 0: none yet */
	int64_t	 retry;		/* monotonic ms of the next try */
	int64_t	 downsince;	/* monotonic ms since the broker is away */
};

/* SIGTERM, SIGINT or SIGHUP came (peer_signals); SIGPIPE is ignored */
extern volatile sig_atomic_t peer_stop;
void	 peer_signals(void);

/*
 * Set up p from url (NULL: the config's) and the password sources.
 * cmdline: the url came from the command line, where a password would
 * show in ps(1), so one is refused.  Returns 0, or -1 with p->why.
 */
int	 peer_init(struct peer *, const char *url, int cmdline,
	    const struct bridge *, const char *passfile);
/* The exit status for a failed peer_init */
static inline int
peer_init_status(const struct peer *p, int cmdline)
{
	if (p->fault == PEER_NOPASS)
		return MQ_EX_NOINPUT;
	if (p->fault == PEER_UNTRUSTED)
		return MQ_EX_CONFIG;
	return cmdline ? MQ_EX_USAGE : MQ_EX_CONFIG;
}

/* Connect, log in, open the channel (in confirm mode if asked). */
int	 peer_connect(struct peer *, int confirm);
/* Drop the connection; graceful: say goodbye first (bounded wait). */
void	 peer_close(struct peer *, int graceful);
/* Record a failed call: why and what kind.  Returns -1. */
int	 peer_fail(struct peer *, const char *what, amqp_rpc_reply_t);
int	 peer_fail_status(struct peer *, const char *what, int status);
/* Record the broker's closing of our channel or connection.  Returns -1. */
int	 peer_closed(struct peer *, const amqp_frame_t *);
/*
 * Going on without the broker.  peer_down: a connect failed, or the
 * connection went; tell why, once until it changes, drop it, and set the
 * next try after a backoff doubling from 100 ms to 30 s.  peer_wait:
 * sleep toward the next try (at most 1 s, to see signals), 1 when due.
 * peer_up: connected, say so if trouble was told.  peer_ok: progress,
 * the backoff starts over.  peer_hopeless: for --drain, whether to give
 * up: refused, or away for timeout ms (said).
 */
void	 peer_down(struct peer *);
int	 peer_wait(struct peer *);
void	 peer_up(struct peer *);
void	 peer_ok(struct peer *);
int	 peer_hopeless(struct peer *, int64_t timeout);
/* "312 NO_ROUTE" and the like, from a reply code and text */
void	 peer_reply(char *, size_t, int code, amqp_bytes_t text);

/*
 * The envelope across the bridge: mq headers as AMQP properties and
 * headers table (mq-forward(1)), and back (mq-recv(1)).
 */
#define MQ_HDR_ERROR	"amqp-error"	/* mq-recv: why it is dead */
#define DEAD_HEADERS	"headers"	/* mq-recv: the dead reason */
struct envelope_out {
	/* "a=\0" is the shortest record: at most MQ_HDR_MAX / 3 of them */
	amqp_table_entry_t entries[MQ_HDR_MAX / 3];
	amqp_table_t	 table;
	amqp_bytes_t	*rkey;		/* byheader: routing-key, or NULL */
	amqp_bytes_t	 rkeybuf;
};
/*
 * The properties and headers table of a message of headers h, into pr
 * (which keeps the properties it has) and o, pointing into h: 0, or -1
 * with why when the message may not be forwarded (a reserved name, a
 * value too long for a property).  byheader: the routing key from the
 * routing-key header too (-r).
 */
int	 envelope_out(const struct mq_headers *h, int byheader,
	    amqp_basic_properties_t *pr, struct envelope_out *o, char *why,
	    size_t len);
/*
 * The headers of a delivery: 0; or -1 when mq cannot hold them all, with
 * why, and in h what it can, MQ_HDR_ERROR saying why among them.
 */
int	 envelope_in(const amqp_envelope_t *, struct mq_headers *h,
	    char *why, size_t len);

#endif
