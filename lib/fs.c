/*
 * fs.c - the file-system steps every layer uses: listing a directory,
 * renaming without replacing, making a name durable.  No queue here: these
 * take descriptors and paths, and know nothing of the spool's layout.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * Rename without ever replacing a file.  Where the filesystem lacks
 * RENAME_NOREPLACE (NFS), a plain rename is the lesser evil: link+unlink
 * would let two claimers both link one message.  Names carry random parts,
 * so a collision there means a planted file, not a message.
 */
int
mq_rename(int ofd, const char *o, int nfd, const char *n)
{
	static int nonoreplace;

	if (!nonoreplace) {
		if (renameat2(ofd, o, nfd, n, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		nonoreplace = 1;
	}
	if (faccessat(nfd, n, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(ofd, o, nfd, n);
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append a copy of s to a list of names that grows by doubling. */
int
names_push(char ***v, size_t *n, size_t *cap, const char *s)
{
	char **nv;

	if (*n == *cap) {
		if ((nv = reallocarray(*v, *cap ? *cap * 2 : 64,
		    sizeof(*nv))) == NULL)
			return -1;
		*v = nv;
		*cap = *cap ? *cap * 2 : 64;
	}
	if (((*v)[*n] = strdup(s)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

void
free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* For filesystems whose readdir does not tell the type. */
static int
is_type(int dirfd, const char *name, mode_t type)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st.st_mode & S_IFMT) == type;
}

/*
 * The names in a directory, without dot entries, and only regular files
 * (LN_FILES) or only directories (LN_DIRS): a symlink, device or directory
 * planted among messages is not a message.
 */
int
list_names(int dirfd, const char *sub, char ***names, size_t *n, int flags)
{
	struct dirent *de;
	char **v = NULL;
	size_t len = 0, cap = 0;
	DIR *d;
	int fd, saved;

	*names = NULL;
	*n = 0;
	fd = mq_opendirat(dirfd, sub);
	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (!(flags & LN_ALL) &&
		    de->d_type != ((flags & LN_DIRS) ? DT_DIR : DT_REG) &&
		    (de->d_type != DT_UNKNOWN || !is_type(fd,
		    de->d_name, (flags & LN_DIRS) ? S_IFDIR : S_IFREG)))
			continue;
		if (names_push(&v, &len, &cap, de->d_name) == -1)
			goto fail;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	if ((flags & LN_SORT) && len > 1)
		qsort(v, len, sizeof(*v), cmpstr);
	*names = v;
	*n = len;
	return 0;
fail:
	saved = errno;
	closedir(d);
	free_names(v, len);
	errno = saved;
	return -1;
}

/* Make the name of a directory just created durable. */
static int
fsync_parent(char *path)
{
	char *slash = strrchr(path, '/');
	int fd, r;

	if (slash == NULL || slash == path)
		fd = mq_openroot(slash ? "/" : ".");
	else {
		*slash = '\0';
		fd = mq_openroot(path);
		*slash = '/';
	}
	if (fd == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* mkdir -p for the spool root, durable. */
int
mkpath(const char *path)
{
	char buf[PATH_MAX], *p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0777) == 0) {
				if (fsync_parent(buf) == -1)
					return -1;
			} else if (errno != EEXIST)
				return -1;
			if ((*p = c) == '\0')
				break;
		}
	}
	return 0;
}

int
fsyncat(int dirfd, const char *rel)
{
	int fd, r;

	if ((fd = mq_opendirat(dirfd, rel)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int64_t
mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* Close *fd if open, and mark it closed: the parts of a queue close so. */
void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}
