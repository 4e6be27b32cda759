/*
 * error.c - the messages of mq's own error numbers (mq.h MQ_E*), and of
 * the system's for the rest.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

const char *
mq_strerror(int err)
{
	switch (err) {
	case ESTALE:
		return "lease lost: message acked, reclaimed or claimed again";
	case MQ_ECONFIG:
		return "bad configuration";
	case MQ_EHANDLE:
		return "not a message of this spool in that state";
	case MQ_ENOQUEUE:
		return "no such queue";
	case MQ_EMOVED:
		return "message moved meanwhile: claimed, held, released or deleted";
	case MQ_EKEYFILE:
		return "corrupt key file";
	case MQ_EISTOPIC:
		return "the queue is a topic: fan-out goes one level deep";
	case MQ_EISSUB:
		return "the topic is a subscriber: fan-out goes one level deep";
	case MQ_ENOTEMPTY:
		return "the queue holds messages to deliver: drain or purge it";
	case MQ_ENOTREG:
		return "not a regular file";
	case MQ_ERANGE:
		return "beyond what a message name holds (times up to "
		    "2286-11-20T17:46:39Z, leases up to 31 years)";
	case MQ_EHEADER:
		return "bad header: a name of letters, digits, '-', '_' and "
		    "'.' (at most 128), '=', a value without NUL";
	case MQ_EHDRDUP:
		return "header name given twice (once '-' and '.' are '_')";
	case MQ_EHDRSIZE:
		return "headers too large (at most 3072 bytes in all)";
	case MQ_ENOXATTR:
		return "the filesystem holds no extended attributes (user.*), "
		    "which headers need";
	case MQ_EPATTERN:
		return "bad binding pattern: at most 255 bytes, no control "
		    "bytes (at most 64 KiB of bindings a subscriber)";
	case MQ_EUNTRUSTED:
		return "bindings not trusted: not the topic owner's or root's, "
		    "writable by others, or linked (see TRUST in mq(7))";
	case MQ_EUNROUTABLE:
		return "no binding of the topic matches its routing key: "
		    "still in dead/ as unroutable";
	case MQ_EFULL:
		return "queue full";
	case MQ_EPREPARED:
		return "prepared, not yet committed: a message with this key "
		    "waits for mq-commit or mq-rm";
	case MQ_EGONE:
		return "no longer prepared: rolled back, committed, or dead "
		    "as unresolved";
	case MQ_EMVTOPIC:
		return "the destination is a topic: its puts go to its "
		    "subscribers, name one of them";
	case MQ_EIDCLASH:
		return "the destination holds a message with that id";
	case MQ_EKEYCLASH:
		return "the destination knows the message's key for another "
		    "message";
	case MQ_ESAMEQ:
		return "the message is in the destination queue already";
	case EFBIG:
		return "message larger than max_size";
	default:
		return strerror(err);
	}
}
