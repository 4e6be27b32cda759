/*
 * admit.c - the one road into ready: a message of an ordered group takes
 * its group's turn (group.c), any other is published (move.c).  Every
 * road in goes here: a put, a fan-out copy, a put finished after a crash,
 * a kick of a dead message, a commit of a prepared one (mq-commit).  A nack, an expired lease, a release and a
 * kick of a delayed message (hasten, upkeep.c) keep the group's turn they
 * already have, and publish.
 */
#include <sys/types.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * Admit a written message: its group's turn if it has a group, else ready;
 * one put dead (a reason in its name: mq_putopts.dead) goes to dead/, and
 * so does its copy in each subscriber, and its put finished after a crash.
 */
int
admit(struct mq_queue *q, int fromfd, const char *from, struct mq_name *m)
{
	char reason[sizeof(m->reason)];

	if (m->reason[0] != '\0') {
		strlcpy(reason, m->reason, sizeof(reason));
		return entomb(q, fromfd, from, m, reason);
	}
	if (m->group[0] != '\0')
		return group_put(q, fromfd, from, m);
	return publish(q, fromfd, from, m);
}

/*
 * A dead message gets a fresh start: no attempts, no expiry, no delay.
 * One that died prepared, as no checker answered for it (mq-resolve),
 * goes back to prepared/, never straight to ready: whether it is to be
 * published at all is still its checker's to say.
 */
int
revive(struct mq_queue *q, const char *from, struct mq_name *m)
{
	char name[MQ_NAME_MAX + 1];

	if (strcmp(m->reason, R_UNRESOLVED) == 0) {
		m->attempts = 0;
		if (prepare(q, q->sfd[MQ_DEAD], from, m, name) == -1)
			return -1;
		return mark_dirty(q, mq_state_name(MQ_DEAD));
	}
	m->attempts = 0;
	m->expiry = 0;
	m->notbefore = 0;
	m->reason[0] = '\0';
	/* back in its group, behind the message that is out, if any */
	if (admit(q, q->sfd[MQ_DEAD], from, m) == -1)
		return -1;
	return mark_dirty(q, mq_state_name(MQ_DEAD));
}
