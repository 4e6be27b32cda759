# mq - durable message queues in a spool directory.  See README.md.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share
CC ?= cc
CFLAGS ?= -O2 -g
PKGS = libbsd-overlay inih libmd

# SANITIZE=1 builds into its own tree, so the two builds never mix objects.
ifeq ($(SANITIZE),1)
O ?= build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
else
O ?= build/out
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libbsd, inih and libmd (SHA-256, for mq-put -k) are linked statically: a
# tool run once per message pays for every shared library it loads (see
# bench/README.md).  STATIC=0 links them dynamically; sanitizer builds
# always do.
STATIC ?= $(if $(SANITIZE),0,1)
ifeq ($(STATIC),1)
PKG_LIBS := -Wl,-Bstatic $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) \
	-Wl,-Bdynamic
else
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
endif
PKG_DYNLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib \
	$(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS)

TOOLS = mq-put mq-get mq-ack mq-nack mq-touch mq-ls mq-stat mq-kick \
	mq-purge mq-init mq-pause mq-resume mq-work mq-hold mq-release mq-fsck mq-sub
# the bridge to AMQP brokers (mq-forward, mq-recv) builds where librabbitmq
# is; linked dynamically, with OpenSSL for amqps://
AMQP := $(shell pkg-config --exists librabbitmq 2>/dev/null && echo yes)
ifeq ($(AMQP),yes)
BRIDGE = mq-forward mq-recv
AMQP_CFLAGS := $(shell pkg-config --cflags librabbitmq)
AMQP_LIBS := $(shell pkg-config --libs librabbitmq)
endif
TOOLS += $(BRIDGE)
LIBOBJ = $(patsubst lib/%.c,$(O)/lib/%.o,$(wildcard lib/*.c))
BINS = $(addprefix $(O)/bin/,$(TOOLS))
MAN1 = $(addprefix man/,$(addsuffix .1,$(TOOLS)))

# make fuzz: one libFuzzer target per parser (fuzz/fuzz-NAME.c), built by
# clang with ASan and UBSan into build/fuzz, each run for FUZZ_TIME seconds.
FUZZ_TIME ?= 30
FUZZ_CC ?= clang
FUZZ_O = build/fuzz
FUZZERS = parse name conf handle records
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib \
	$(PKG_CFLAGS) -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIBOBJ = $(patsubst lib/%.c,$(FUZZ_O)/lib/%.o,$(wildcard lib/*.c))
FUZZ_BINS = $(addprefix $(FUZZ_O)/fuzz-,$(FUZZERS))

.DELETE_ON_ERROR:
.PHONY: all bench check demo install uninstall clean lint torture deps-build \
	test-bins \
	deps-test valgrind fuzz deps-fuzz

all: deps-build $(BINS)

# the compiler and libraries are installed (deps-*) before anything is
# compiled, also under make -j; the test dependencies after the build's,
# so that two apt-get never run at once
$(O)/lib/%.o: lib/%.c lib/mq.h lib/internal.h | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libmq.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

$(O)/bin/%: cmd/%.c cmd/tool.h lib/mq.h $(O)/libmq.a | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libmq.a $(PKG_LIBS)

# the bridge's tools share cmd/amqp.c (rules with more prerequisites first)
$(addprefix $(O)/bin/,$(BRIDGE)): $(O)/bin/%: cmd/%.c cmd/amqp.c cmd/amqp.h \
    cmd/tool.h lib/mq.h $(O)/libmq.a | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(AMQP_CFLAGS) $(LDFLAGS) -o $@ $< cmd/amqp.c \
	    $(O)/libmq.a $(PKG_LIBS) $(AMQP_LIBS)

# tests/amqp-peek: the bridge tests' own AMQP client, independent of
# cmd/amqp.c and of libbsd's overlay, built with the tools when
# librabbitmq is there
TEST_BINS = $(if $(BRIDGE),$(O)/test/amqp-peek)
$(O)/test/amqp-peek: tests/amqp-peek.c | deps-build
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror $(AMQP_CFLAGS) \
	    $(SANFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(AMQP_LIBS)

test-bins: $(TEST_BINS)

$(FUZZ_O)/lib/%.o: lib/%.c lib/mq.h lib/internal.h | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_O)/libmq.a: $(FUZZ_LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(FUZZ_LIBOBJ)

$(FUZZ_O)/fuzz-%: fuzz/fuzz-%.c fuzz/fuzz.h lib/mq.h lib/internal.h \
    $(FUZZ_O)/libmq.a | deps-fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_O)/libmq.a \
	    $(PKG_DYNLIBS)

deps-build:
	@CC='$(CC)' SANITIZE='$(SANITIZE)' sh mk/deps.sh build

deps-test: deps-build
	@CC='$(CC)' SANITIZE='$(SANITIZE)' sh mk/deps.sh test

deps-fuzz:
	@CC='$(FUZZ_CC)' SANITIZE=1 sh mk/deps.sh fuzz

# a make of its own after deps-test, so that what deps-test just installed
# (librabbitmq: the bridge, amqp-peek) is seen
check: deps-test
	$(MAKE) all test-bins
	MQ_BIN=$(CURDIR)/$(O)/bin MQ_TEST_BIN=$(CURDIR)/$(O)/test \
	    MQ_SANITIZE=$(SANITIZE) sh tests/run

# the tools run under valgrind for a subset of the suite (one that does not
# starve them of descriptors on purpose)
VALGRIND_TESTS = 0800-mq-kick.bats 0850-mq-purge.bats
valgrind: deps-test all
	sh mk/valgrind.sh $(CURDIR)/$(O)/bin $(CURDIR)/$(O)/valgrind
	MQ_BIN=$(CURDIR)/$(O)/valgrind sh tests/run $(VALGRIND_TESTS)

fuzz: deps-fuzz $(FUZZ_BINS)
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_O=$(FUZZ_O) sh fuzz/run $(FUZZERS)

bench: all
	QUICK=$(QUICK) bench/run

# crash torture and power-loss simulation; ROUNDS, CUTS and SEED override
torture: deps-test all
	MQ_BIN=$(CURDIR)/$(O)/bin ROUNDS=$(ROUNDS) CUTS=$(CUTS) SEED=$(SEED) \
	    sh tests/torture/run

lint:
	mandoc -Tlint -Wwarning man/*

# the README's fresh-machine lines, run as written in a fresh Debian 12
# root (needs root; see mk/fresh.sh)
.PHONY: fresh
fresh:
	sh mk/fresh.sh

demo: all
	MQ_BIN=$(CURDIR)/$(O)/bin sh mk/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(SHAREDIR)/bash-completion/completions \
		$(DESTDIR)$(SHAREDIR)/zsh/site-functions \
		$(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/mq.conf.5 $(DESTDIR)$(MANDIR)/man5
	install -m 644 man/mq.7 $(DESTDIR)$(MANDIR)/man7
	install -m 644 completions/_mq $(DESTDIR)$(SHAREDIR)/zsh/site-functions
	for t in $(TOOLS); do \
		install -m 644 completions/mq.bash \
		    $(DESTDIR)$(SHAREDIR)/bash-completion/completions/$$t; \
		install -m 644 completions/mq.fish \
		    $(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d/$$t.fish; \
	done

uninstall:
	for t in $(TOOLS); do \
		rm -f $(DESTDIR)$(BINDIR)/$$t $(DESTDIR)$(MANDIR)/man1/$$t.1 \
		    $(DESTDIR)$(SHAREDIR)/bash-completion/completions/$$t \
		    $(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d/$$t.fish; \
	done
	rm -f $(DESTDIR)$(MANDIR)/man5/mq.conf.5 $(DESTDIR)$(MANDIR)/man7/mq.7 \
	    $(DESTDIR)$(SHAREDIR)/zsh/site-functions/_mq

clean:
	rm -rf build
