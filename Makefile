# mq - durable message queues in a spool directory.  See README.md.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share
FISHDIR ?= $(SHAREDIR)/fish/vendor_completions.d
# fish searches only /usr/share and ~/.local/share (unless XDG_DATA_DIRS is
# set): for any other prefix, a file in its conf.d adds FISHDIR to its
# completion path (FISH_CONFD= leaves it out)
FISH_CONFD ?= $(if $(filter /usr $(HOME)/.local,$(PREFIX)),,/etc/fish/conf.d)
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

# The flags come from pkg-config, which is asked when a recipe first needs
# them, not when make reads this file: on a fresh machine deps-build has
# not yet installed pkg-config and the libraries then (an order-only
# prerequisite of every compile).  Each is asked once: the variable
# replaces itself with its value on first use.
once = $(eval $(1) := $$(shell $(2)))$($(1))
PKG_CFLAGS = $(call once,PKG_CFLAGS,pkg-config --cflags $(PKGS))
# libbsd, inih and libmd (SHA-256, for mq-put -k) are linked statically: a
# tool run once per message pays for every shared library it loads (see
# bench/README.md).  STATIC=0 links them dynamically; sanitizer builds
# always do.
STATIC ?= $(if $(SANITIZE),0,1)
ifeq ($(STATIC),1)
PKG_LIBS = -Wl,-Bstatic $(PKG_STATICLIBS) -Wl,-Bdynamic
PKG_STATICLIBS = $(call once,PKG_STATICLIBS,pkg-config --static --libs $(PKGS))
else
PKG_LIBS = $(PKG_DYNLIBS)
endif
PKG_DYNLIBS = $(call once,PKG_DYNLIBS,pkg-config --libs $(PKGS))
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib \
	$(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS)

TOOLS = mq-put mq-get mq-ack mq-nack mq-touch mq-ls mq-stat mq-kick \
	mq-purge mq-init mq-pause mq-resume mq-work mq-hold mq-release mq-rm mq-fsck mq-sub \
	mq-show mq-replay mq-commit mq-resolve mq-mv
# the bridge to AMQP brokers, linked dynamically with librabbitmq (and
# OpenSSL, for amqps://)
BRIDGE = mq-forward mq-recv
AMQP_CFLAGS = $(call once,AMQP_CFLAGS,pkg-config --cflags librabbitmq)
AMQP_LIBS = $(call once,AMQP_LIBS,pkg-config --libs librabbitmq)
TOOLS += $(BRIDGE)
LIBOBJ = $(patsubst lib/%.c,$(O)/lib/%.o,$(wildcard lib/*.c))
BINS = $(addprefix $(O)/bin/,$(TOOLS))
MAN1 = $(addprefix man/,$(addsuffix .1,$(TOOLS)))

# make fuzz: one libFuzzer target per parser (fuzz/fuzz-NAME.c), built by
# clang with ASan and UBSan into build/fuzz, each run for FUZZ_TIME seconds.
FUZZ_TIME ?= 30
FUZZ_CC ?= clang
FUZZ_O = build/fuzz
FUZZERS = parse name conf handle records header route
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

# what the tools share beside the library (cmd/tool.c)
$(O)/cmd/tool.o: cmd/tool.c cmd/tool.h lib/mq.h | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/bin/%: cmd/%.c cmd/tool.h lib/mq.h $(O)/cmd/tool.o $(O)/libmq.a \
    | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(O)/cmd/tool.o $(O)/libmq.a \
	    $(PKG_LIBS)

# the bridge's tools share cmd/amqp.c (rules with more prerequisites first)
$(addprefix $(O)/bin/,$(BRIDGE)): $(O)/bin/%: cmd/%.c cmd/amqp.c cmd/amqp.h \
    cmd/tool.h lib/mq.h $(O)/cmd/tool.o $(O)/libmq.a | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(AMQP_CFLAGS) $(LDFLAGS) -o $@ $< cmd/amqp.c \
	    $(O)/cmd/tool.o $(O)/libmq.a $(PKG_LIBS) $(AMQP_LIBS)

# mq-work's modes have files of their own (cmd/work-*.c), linked to it alone
WORK_SRC = cmd/work-run.c cmd/work-stream.c
$(O)/bin/mq-work: cmd/mq-work.c $(WORK_SRC) cmd/work.h cmd/tool.h lib/mq.h \
    $(O)/cmd/tool.o $(O)/libmq.a | deps-build
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(WORK_SRC) $(O)/cmd/tool.o \
	    $(O)/libmq.a $(PKG_LIBS)

# tests/amqp-peek: the bridge tests' own AMQP client, independent of
# cmd/amqp.c and of libbsd's overlay
TEST_BINS = $(O)/test/amqp-peek
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

$(FUZZ_O)/cmd/tool.o: cmd/tool.c cmd/tool.h lib/mq.h | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_O)/fuzz-%: fuzz/fuzz-%.c fuzz/fuzz.h lib/mq.h lib/internal.h \
    cmd/tool.h $(FUZZ_O)/cmd/tool.o $(FUZZ_O)/libmq.a | deps-fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Icmd -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_O)/cmd/tool.o $(FUZZ_O)/libmq.a $(PKG_DYNLIBS)

deps-build:
	@CC='$(CC)' SANITIZE='$(SANITIZE)' sh mk/deps.sh build

deps-test: deps-build
	@CC='$(CC)' SANITIZE='$(SANITIZE)' sh mk/deps.sh test

deps-fuzz:
	@CC='$(FUZZ_CC)' SANITIZE=1 sh mk/deps.sh fuzz

check: deps-test all test-bins
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
		$(DESTDIR)$(SHAREDIR)/zsh/site-functions $(DESTDIR)$(FISHDIR)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/mq.conf.5 $(DESTDIR)$(MANDIR)/man5
	install -m 644 man/mq.7 $(DESTDIR)$(MANDIR)/man7
	install -m 644 completions/_mq $(DESTDIR)$(SHAREDIR)/zsh/site-functions
	for t in $(TOOLS); do \
		install -m 644 completions/mq.bash \
		    $(DESTDIR)$(SHAREDIR)/bash-completion/completions/$$t; \
		install -m 644 completions/mq.fish $(DESTDIR)$(FISHDIR)/$$t.fish; \
	done
	if [ -n "$(FISH_CONFD)" ]; then \
		install -d $(DESTDIR)$(FISH_CONFD) && \
		sed 's|@DIR@|$(FISHDIR)|' completions/mq-path.fish \
		    >$(DESTDIR)$(FISH_CONFD)/mq.fish; \
	fi

uninstall:
	for t in $(TOOLS); do \
		rm -f $(DESTDIR)$(BINDIR)/$$t $(DESTDIR)$(MANDIR)/man1/$$t.1 \
		    $(DESTDIR)$(SHAREDIR)/bash-completion/completions/$$t \
		    $(DESTDIR)$(FISHDIR)/$$t.fish; \
	done
	rm -f $(DESTDIR)$(MANDIR)/man5/mq.conf.5 $(DESTDIR)$(MANDIR)/man7/mq.7 \
	    $(DESTDIR)$(SHAREDIR)/zsh/site-functions/_mq
	[ -z "$(FISH_CONFD)" ] || rm -f $(DESTDIR)$(FISH_CONFD)/mq.fish

clean:
	rm -rf build
