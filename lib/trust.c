/*
 * trust.c - whose word a configuration is (mq.conf(5) TRUST; StrictModes
 * of OpenSSH, safe_open of Postfix): a configuration decides where root's
 * mq-forward sends a password and which file it reads it from, so a file
 * is used only when it was written by the user it speaks for or by root,
 * and nobody else could have changed it since: writable by neither group
 * nor others, with one link (a hard link can give a file someone else
 * wrote a name in the spool).  A file that a configuration names is read
 * only when it is that configuration's owner's, or root's where the reader
 * has no more rights than that owner.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* "user NAME (uid N)", or "uid N" for a uid with no name. */
static void
who(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw;

	if ((pw = getpwuid(uid)) != NULL)
		snprintf(buf, len, "%.32s (uid %u)", pw->pw_name,
		    (unsigned)uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
}

/*
 * Whether st may be taken as written by owner, or by root if rootok.  The
 * reasons tell the owner what to do: a file others could write may have
 * been changed by them, so it is to be read before it is trusted again.
 */
int
conf_trusted(const struct stat *st, uid_t owner, int rootok,
    const char *whose, char *why, size_t len)
{
	char by[64], ok[64];

	if (!S_ISREG(st->st_mode)) {
		snprintf(why, len, "not a regular file");
		return -1;
	}
	if (st->st_uid != owner && !(rootok && st->st_uid == 0)) {
		who(st->st_uid, by, sizeof(by));
		who(owner, ok, sizeof(ok));
		if (owner == 0)
			snprintf(why, len, "owned by %s, not by root", by);
		else
			snprintf(why, len, "owned by %s, not by %s%s%s", by,
			    ok, whose, rootok ? " or root" : "");
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, len, "writable by %s: check it, then chmod %s",
		    st->st_mode & S_IWOTH ? "everyone" : "its group",
		    st->st_mode & S_IWOTH ? "go-w" : "g-w");
		return -1;
	}
	if (st->st_nlink > 1) {
		snprintf(why, len, "has %lu hard links: make it a file of "
		    "its own", (unsigned long)st->st_nlink);
		return -1;
	}
	return 0;
}

/*
 * Root's mq-forward reading a password file for a queue owner's
 * configuration must not read what that owner could not: a file of
 * root's is read only for root's configurations, or for a tool run by the
 * configuration's owner, whom the kernel already holds to its own rights.
 */
int
mq_conf_named_ok(const struct stat *st, uid_t owner, char *why, size_t len)
{
	return conf_trusted(st, owner, owner == 0 || owner == geteuid(),
	    ", whose configuration names it", why, len);
}
