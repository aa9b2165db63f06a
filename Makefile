# ikeheal — plain Makefile with pkg-config.
#
#   make                 build ikeheald and ikehealctl into $(BUILD) (default build/)
#   make SANITIZE=address,undefined   the sanitizer variant (into build-san/ unless BUILD is set)
#   make check           deps, both variants, then the whole suite (unit, fuzz corpora, lab,
#                        systemd container) under the sanitizer build; ends "N passed, N failed"
#   make demo            deps, build, and the live story on the built-in lab
#   make drill           deps, build, every shipped drill on the lab, and the report table
#   make deps            idempotent apt-get install of everything needed to build, test and demo
#   make install         PREFIX=/usr/local DESTDIR=… binaries, man pages, unit file, config
#   make deb             the Debian package, built from a copy of the tree, into $(BUILD)/deb/
#   make fuzz            build the libFuzzer targets (clang) into $(BUILD)/fuzz
#   make bench           the benchmarks in bench/ (figures printed, nothing asserted)
#   make layout          the floors and circles rule of ARCHITECTURE.md, checked on the build
#   make clean

VERSION := 0.1.0
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
# The unit goes beside the binaries: /usr/local/lib/systemd/system for a local install, systemd's
# own unit directory (pkg-config) when PREFIX is /usr.
ifeq ($(PREFIX),/usr)
UNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
else
UNITDIR ?= $(PREFIX)/lib/systemd/system
endif
DESTDIR ?=

SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build-san
endif

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := yaml-0.1 libcurl libssl libcrypto libsystemd libnftnl libmnl libmicrohttpd json-c

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wimplicit-fallthrough -Wno-unused-parameter -Wno-missing-field-initializers
ifneq ($(CI),)
WARN += -Werror
endif
ifneq ($(WERROR),)
WARN += -Werror
endif

BASE_CFLAGS := -std=gnu11 -g -fPIE -fstack-protector-strong -fno-strict-aliasing \
               -D_GNU_SOURCE -DIKEHEAL_VERSION='"$(VERSION)"' -I. -Icommon
ifeq ($(SANITIZE),)
BASE_CFLAGS += -O2 -D_FORTIFY_SOURCE=2
else
BASE_CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# libcurl is not linked: common/curl_lib.c loads it when HTTP is first needed (its dependencies
# alone would cost ~4 MB of RSS in every ikeheald); its headers are still used. Nor is
# libmicrohttpd, for the same reason (GnuTLS and its libraries): common/mhd_lib.c loads it when
# an HTTP listener is first set up.
# Nor is libyaml: common/yaml_lib.c loads it for each parse and unloads it after.
# Nor is libsystemd (it links gcrypt, gpg-error, zstd, lzma, lz4 and cap): common/systemd_lib.c
# loads it when the system bus or the journal's reader is first needed; the loop, sd_notify's
# protocol and the journal's native protocol are the project's own.
# Nor are libnftnl and libmnl: common/nftnl_lib.c loads them when nftables is first talked to.
# Nor is json-c: common/jsonc_lib.c loads it when JSON is first read or written.
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(filter-out libcurl libmicrohttpd yaml-0.1 libsystemd libnftnl libmnl json-c,$(PKGS)) 2>/dev/null)

ALL_CFLAGS := $(BASE_CFLAGS) $(WARN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now -Wl,--as-needed $(if $(SANITIZE),-fsanitize=$(SANITIZE)) $(LDFLAGS)

# Everything but the two mains goes into one static library; each program pulls what it uses.
LIB_SRCS := $(filter-out agent/main.c,$(wildcard common/*.c agent/*/*.c faults/*.c \
                                                  actions/*.c policy/*.c))
CTL_SRCS := $(wildcard ctl/*.c)
TEST_SRCS := $(wildcard tests/unit/test-*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CTL_OBJS := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
TESTS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZERS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
LIB := $(BUILD)/libikeheal.a

.PHONY: all tests fuzz check demo drill deps install deb clean lab-up lab-down bench bench-deps soak layout
.DEFAULT_GOAL := all

all: $(BUILD)/ikeheald $(BUILD)/ikehealctl

tests: all $(TESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/ikeheald: $(BUILD)/obj/agent/main.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/ikehealctl: $(CTL_OBJS) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ikehealctl's unit tests (test-ctl-*) link its objects but its main().
$(BUILD)/tests/test-ctl-%: $(BUILD)/obj/tests/unit/test-ctl-%.o $(filter-out %/ctl/main.o,$(CTL_OBJS)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# libFuzzer targets: clang only, always with ASan+UBSan. The library (and ikehealctl's code but
# its main()) is compiled once more with the fuzzer's coverage instrumentation (fuzzer-no-link)
# into its own archive, and every target links against it: the linker takes only the objects a
# target reaches.
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -DIKEHEAL_VERSION='"$(VERSION)"' -I. -Icommon $(PKG_CFLAGS) \
               -fno-sanitize-recover=all
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/fuzz-obj/%.o,$(LIB_SRCS) $(filter-out ctl/main.c,$(CTL_SRCS)))
FUZZ_LIB := $(BUILD)/libikeheal-fuzz.a
fuzz: $(FUZZERS)
$(BUILD)/fuzz-obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@
$(FUZZ_LIB): $(FUZZ_OBJS)
	rm -f $@
	ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB) $(PKG_LIBS)

# Debian packages for build, tests, lab and demo. Idempotent: dpkg-query first, apt only if needed.
DEB_PKGS := build-essential pkg-config clang libclang-rt-14-dev libyaml-dev libcurl4-openssl-dev \
            libssl-dev libsystemd-dev libnftnl-dev libmnl-dev \
            strongswan-swanctl charon-systemd strongswan-charon strongswan-pki \
            libstrongswan-standard-plugins libstrongswan-extra-plugins libcharon-extra-plugins \
            nftables iproute2 iputils-ping util-linux openssl procps python3 \
            systemd-container mmdebstrap zstd dbus valgrind \
            debhelper lintian devscripts groff python3-yaml python3-jsonschema \
            libmicrohttpd-dev libjson-c-dev prometheus prometheus-alertmanager curl
DEB_PKGS += keepalived etcd-server etcd-client
DEB_PKGS += libpcap-dev tcpdump
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	        dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	        echo "deps: installing:" $$missing; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: all Debian packages present"; fi

# Packages only the benchmarks need: Monit, the baseline bench/footprint.sh runs side by side.
BENCH_PKGS := monit
bench-deps:
	@missing=$$(for p in $(BENCH_PKGS); do \
	        dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	        echo "bench-deps: installing:" $$missing; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "bench-deps: all Debian packages present"; fi

# The builds use every core (the tests after them run one at a time). The fuzz targets and the
# Debian package are built by tests/run.sh beside the integration scripts, at a low priority.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# The plain build also gives the tools tests/integration/systemd-agent.sh runs inside its
# container (which has no sanitizer runtime).
check: deps
	$(MAKE) -j$(JOBS) BUILD=build all build/tests/test-nft-batch \
		build/tools/check-run build/tools/journal-send build/tools/service-notify
	$(MAKE) -j$(JOBS) SANITIZE=address,undefined BUILD=build-san tests
	tests/run.sh build-san build

bench: deps bench-deps
	$(MAKE) BUILD=build all tests
	bench/log-classify.sh $(abspath build)
	bench/check-cycle.sh $(abspath build)
	bench/drill-times.sh $(abspath build) $(or $(DRILL_REPS),20)
	bench/nft-scale.sh $(abspath build)
	bench/metrics.sh $(abspath build)
	bench/flood.sh $(abspath build)
	bench/footprint.sh $(abspath build)

# The layout rules (ARCHITECTURE.md): includes and calls only downward, no circle between files.
layout: all
	python3 tests/layout/check.py $(BUILD)/obj

# Crash soak, not part of check (hours for the default 1,000): ikeheald SIGKILLed at random
# moments with every kind of temporary measure in force, restarted; make soak SOAK_ITERATIONS=50
soak: deps
	$(MAKE) BUILD=build all
	bench/soak-kill9.sh $(or $(SOAK_ITERATIONS),1000) $(abspath build)

demo: deps all
	tests/lab/demo.sh $(BUILD)

# Every shipped drill the lab can host, run by ikeheald on the lab; prints the report table.
drill: deps all
	tests/lab/drills.sh $(BUILD)

# A lab to poke at by hand: make lab-up LAB_DIR=/tmp/lab [LAB_CLIENTS=2]; make lab-down …
LAB_DIR ?= /tmp/ikeheal-lab
lab-up:
	tests/lab/lab.sh up $(LAB_DIR) --clients $(or $(LAB_CLIENTS),1)
lab-down:
	tests/lab/lab.sh down $(LAB_DIR)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8 \
	           $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/ikeheal \
	           $(DESTDIR)$(PREFIX)/share/ikeheal/runbooks
	install -m 0755 $(BUILD)/ikeheald $(DESTDIR)$(PREFIX)/sbin/ikeheald
	install -m 0755 $(BUILD)/ikehealctl $(DESTDIR)$(PREFIX)/bin/ikehealctl
	install -m 0644 man/ikeheald.8 man/ikehealctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/ikeheal.yaml.5 man/ikeheal-runbook.5 man/ikeheal-drill.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 runbooks/schema.json runbooks/README.md $(DESTDIR)$(PREFIX)/share/ikeheal/runbooks/
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/ikeheal/runbooks.d $(DESTDIR)$(SYSCONFDIR)/ikeheal/scripts
	install -m 0644 runbooks/*.yaml $(DESTDIR)$(PREFIX)/share/ikeheal/runbooks/
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/ikeheal/drills $(DESTDIR)$(SYSCONFDIR)/ikeheal/drills.d
	install -m 0644 drills/*.yaml drills/README.md drills/schema.json $(DESTDIR)$(PREFIX)/share/ikeheal/drills/
	for f in runbooks/*.yaml; do [ -e $(DESTDIR)$(SYSCONFDIR)/ikeheal/runbooks.d/$${f##*/} ] || \
	        install -m 0644 $$f $(DESTDIR)$(SYSCONFDIR)/ikeheal/runbooks.d/; done
	sed 's,@SBINDIR@,$(PREFIX)/sbin,g' etc/ikeheald.service > $(DESTDIR)$(UNITDIR)/ikeheald.service
	install -m 0644 etc/ikeheal.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/ikeheal.conf 2>/dev/null || \
	        { install -d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d && \
	          install -m 0644 etc/ikeheal.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/ikeheal.conf; }
	[ -e $(DESTDIR)$(SYSCONFDIR)/ikeheal/ikeheal.yaml ] || \
	        install -m 0640 etc/ikeheal.yaml $(DESTDIR)$(SYSCONFDIR)/ikeheal/ikeheal.yaml
	install -d $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 etc/ikeheal.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/ikeheal.conf
	install -m 0644 etc/ikehealctl.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ikehealctl
	install -d $(DESTDIR)$(SYSCONFDIR)/apt/apt.conf.d
	sed 's,@BINDIR@,$(PREFIX)/bin,g' etc/ikeheal-guard.apt.conf > $(DESTDIR)$(SYSCONFDIR)/apt/apt.conf.d/80ikeheal-guard

# The Debian package (debian/), from a copy of the tree's files as git knows them (tracked and
# new, not ignored): no build directory or object file of this tree reaches it.
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/ikeheal
	git ls-files -z -co --exclude-standard | xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' _ | \
	        tar --null -T - -cf - | tar -xf - -C $(BUILD)/deb/ikeheal
	cd $(BUILD)/deb/ikeheal && DEB_BUILD_OPTIONS="parallel=$(JOBS) $(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning --info $(BUILD)/deb/ikeheal_*.changes
	@ls $(BUILD)/deb/*.deb

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj $(BUILD)/fuzz-obj -name '*.d' 2>/dev/null)

# Test helper programs (tests/tools/*.c): live clients the integration scripts drive.
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
tests: $(TOOLS)
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
