/*
 * fuzz.h - what the libFuzzer targets share: the input as a C string, a
 * check that aborts (so libFuzzer keeps the input as a crash), and a
 * cheap test for leaked descriptors.
 */
#ifndef MQ_FUZZ_H
#define MQ_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The input up to its first NUL byte, as the parsers see a C string. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * The lowest free descriptor: open(2) always takes it, so a descriptor
 * leaked by a run shows as a higher number here afterwards.
 */
static inline int
fuzz_lowest_fd(void)
{
	int fd;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		abort();
	close(fd);
	return fd;
}

#endif
