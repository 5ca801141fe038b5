# ramm top-level Makefile. `make help` lists the targets.

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
PYTHON ?= python3

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wcast-qual -Wsign-compare -Wformat=2 -Wundef -Wvla
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -Icommon -Ibroker -Ibroker/market -Ibroker/daemon \
	-Ibroker/backends -MMD -MP

GLIB_CFLAGS = $(shell pkg-config --cflags glib-2.0 json-c)
GLIB_LIBS = $(shell pkg-config --libs glib-2.0 json-c)
JSONC_CFLAGS = $(shell pkg-config --cflags json-c)
JSONC_LIBS = $(shell pkg-config --libs json-c)
# The libvirt backend only: rammd links it, nothing else does.
LIBVIRT_CFLAGS = $(shell pkg-config --cflags libvirt libvirt-glib-1.0 libxml-2.0)
LIBVIRT_LIBS = $(shell pkg-config --libs libvirt libvirt-glib-1.0 libxml-2.0)

# The pure market and planner: linked into rammd, ramm-sim, the unit tests
# and the fuzzers. common/ is what the host and the guest both build.
MARKET_SRC := broker/market/market.c broker/market/pages.c broker/market/plan.c \
	broker/market/plan_record.c \
	broker/daemon/hugepool.c broker/daemon/config.c common/bid_curve.c
# The daemon's pure parsers, linked into the unit tests and the fuzzers too.
BROKER_CORE := $(MARKET_SRC) common/msg.c common/linebuf.c \
	broker/daemon/state.c broker/daemon/vm_uuid.c broker/daemon/evict_wait.c
RAMMD_SRC := $(BROKER_CORE) broker/daemon/rammd.c broker/daemon/guest.c \
	broker/daemon/agent_chan.c broker/daemon/control.c broker/daemon/log.c \
	common/unix_socket.c broker/daemon/ctl_commands.c broker/daemon/history.c \
	broker/daemon/metrics.c broker/daemon/metrics_text.c broker/daemon/tick.c \
	broker/backends/qmp.c broker/backends/backend_qmp.c broker/backends/qmp_vfio.c \
	broker/backends/backend_libvirt.c broker/backends/libvirt_xml.c \
	broker/daemon/registry.c broker/daemon/persist.c broker/daemon/status.c \
	broker/daemon/discover_config.c broker/daemon/discover_scan.c \
	broker/daemon/discover_proxmox.c broker/daemon/discover_libvirt.c \
	broker/daemon/record.c broker/daemon/fdwatch.c common/proc_sample.c
RAMMCTL_SRC := broker/cli/rammctl.c common/unix_socket.c
AGENT_SRC := guest-agent/ramm-agent.c guest-agent/bid_model.c guest-agent/dev_record.c \
	common/proc_sample.c common/linebuf.c common/unix_socket.c common/msg.c \
	common/bid_curve.c
HOG_SRC := tests/lab/ramm-hog.c
# ramm-sim: the policies side by side; its ramm policy runs the daemon's
# market and the agent's bid model (docs/SIMULATOR.md).
SIM_SRC := broker/sim/sim.c broker/sim/scenario.c broker/sim/bitbrains.c \
	broker/sim/metrics.c \
	broker/sim/report.c broker/sim/policy_static.c broker/sim/policy_proxmox.c \
	broker/sim/policy_mom.c broker/sim/policy_esx.c broker/sim/policy_hyperv.c \
	broker/sim/policy_ramm.c broker/sim/policy_oracle.c \
	broker/sim/replay.c
RAMM_SIM_SRC := $(MARKET_SRC) guest-agent/bid_model.c common/proc_sample.c \
	$(SIM_SRC) broker/sim/ramm-sim.c
DUMP_SRC := kernel/guest-driver/tools/ramm-dump.c

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/%,$(wildcard tests/unit/test_*.c))

obj = $(patsubst %.c,$(BUILD)/obj/$(2)/%.o,$(1))

all: $(BUILD)/rammd $(BUILD)/rammctl $(BUILD)/ramm-agent $(BUILD)/ramm-hog \
	$(BUILD)/ramm-dump $(BUILD)/ramm-sim

$(BUILD)/obj/host/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(GLIB_CFLAGS) -c -o $@ $<

$(BUILD)/obj/guest/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (guest)"
	$(Q)$(CC) $(CFLAGS) $(JSONC_CFLAGS) -c -o $@ $<

$(BUILD)/rammd: $(call obj,$(RAMMD_SRC),host)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(GLIB_LIBS) $(LIBVIRT_LIBS) -lm

$(BUILD)/obj/host/broker/backends/backend_libvirt.o $(BUILD)/obj/host/broker/backends/libvirt_xml.o \
	$(BUILD)/obj/host/broker/daemon/discover_libvirt.o: \
	CFLAGS += $(LIBVIRT_CFLAGS)

$(BUILD)/rammctl: $(call obj,$(RAMMCTL_SRC),host)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(JSONC_LIBS)

$(BUILD)/ramm-sim: $(call obj,$(RAMM_SIM_SRC),host)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

# The guest side runs inside a busybox initramfs: link statically.
$(BUILD)/ramm-agent: $(call obj,$(AGENT_SRC),guest)
	@echo "  LD      $@ (static)"
	$(Q)$(CC) -static $(LDFLAGS) -o $@ $^ $(JSONC_LIBS) -lm

$(BUILD)/ramm-hog: $(call obj,$(HOG_SRC),guest)
	@echo "  LD      $@ (static)"
	$(Q)$(CC) -static $(LDFLAGS) -o $@ $^

# A /dev/ramm test client for the lab guests.
$(BUILD)/ramm-dump: $(call obj,$(DUMP_SRC),guest)
	@echo "  LD      $@ (static)"
	$(Q)$(CC) -static $(LDFLAGS) -o $@ $^

$(BUILD)/test_%: tests/unit/test_%.c $(call obj,$(BROKER_CORE) guest-agent/bid_model.c,host)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	$(Q)$(CC) $(CFLAGS) $(GLIB_CFLAGS) -o $@ $^ $(GLIB_LIBS) -lcmocka -lm

# test_sim also links the simulator (the pattern rule above takes $^).
$(BUILD)/test_sim: $(call obj,$(SIM_SRC),host)
# test_replay: ramm-sim --replay's reader and comparison.
$(BUILD)/test_replay: $(call obj,broker/sim/replay.c,host)

# test_libvirt_xml: the libvirt backend's XML reader, with libxml2 only.
$(BUILD)/test_libvirt_xml: $(call obj,broker/backends/libvirt_xml.c,host)
$(BUILD)/test_libvirt_xml: GLIB_LIBS += $(shell pkg-config --libs libxml-2.0)
$(BUILD)/test_metrics: $(call obj,broker/daemon/metrics_text.c broker/daemon/history.c,host)
# test_qmp_vfio: the QMP backend's VFIO probe on recorded qom-list replies.
$(BUILD)/test_qmp_vfio: $(call obj,broker/backends/qmp_vfio.c,host)

# libFuzzer harnesses for everything that parses peer input; `make fuzz`
# runs each for FUZZ_SECONDS, and `make test` includes a short run.
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 10
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-std=gnu11 -D_GNU_SOURCE -Iinclude -Icommon -Ibroker -Ibroker/market -Ibroker/daemon \
	-Ibroker/backends

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(BROKER_CORE)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)clang $(FUZZ_CFLAGS) $(GLIB_CFLAGS) -o $@ $^ $(JSONC_LIBS) -lm

# fuzz_trace also compiles the trace reader (the pattern rule takes $^).
$(BUILD)/fuzz_trace: broker/sim/scenario.c
# fuzz_bitbrains: the Bitbrains reader, which sizes with the trace reader's rule.
$(BUILD)/fuzz_bitbrains: broker/sim/bitbrains.c broker/sim/scenario.c

# fuzz_qmp_vfio: the QMP backend's VFIO probe on a qom-list reply.
$(BUILD)/fuzz_qmp_vfio: broker/backends/qmp_vfio.c
# fuzz_libvirt_xml: the libvirt backend's XML reader, with libxml2.
$(BUILD)/fuzz_libvirt_xml: broker/backends/libvirt_xml.c
$(BUILD)/fuzz_libvirt_xml: GLIB_CFLAGS += $(shell pkg-config --cflags libxml-2.0)
$(BUILD)/fuzz_libvirt_xml: JSONC_LIBS += $(shell pkg-config --libs libxml-2.0)

fuzz: $(FUZZERS)
	@set -e; for f in $(FUZZERS); do echo "== $$f ($(FUZZ_SECONDS) s)"; \
		mkdir -p $(BUILD)/corpus/$$(basename $$f); \
		cp -n tests/fuzz/seeds/$$(basename $$f)/* $(BUILD)/corpus/$$(basename $$f)/ 2>/dev/null || true; \
		log=$(BUILD)/$$(basename $$f).log; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=0 \
			-artifact_prefix=$(BUILD)/ $(BUILD)/corpus/$$(basename $$f) >$$log 2>&1 \
			|| { tail -n 40 $$log; echo "$$f: FAILED (artifact in $(BUILD)/)"; exit 1; }; \
		tail -n 2 $$log; done

# ramm_guest.ko for every installed guest kernel with headers (the kernel
# matrix), each built out of tree in build/kmod/VER/ so the source folder
# stays clean.
KVERS ?= $(shell $(PYTHON) tests/lab/lab.py kernels 2>/dev/null)
KMOD_SRC := kernel/guest-driver/ramm_guest.c kernel/guest-driver/Kbuild

kmod: $(KMOD_SRC)
	@set -e; for v in $(KVERS); do \
		[ -d /lib/modules/$$v/build ] || { echo "kmod: no headers for $$v"; exit 1; }; \
		d=$(BUILD)/kmod/$$v; mkdir -p $$d/src; cp $(KMOD_SRC) $$d/src/; \
		echo "  KMOD    $$d/ramm_guest.ko"; \
		$(MAKE) -s -C /lib/modules/$$v/build M=$(CURDIR)/$$d/src \
			RAMM_INCLUDE=$(CURDIR)/include modules; \
		cp $$d/src/ramm_guest.ko $$d/; done

deps:
	bash tests/lab/deps.sh

unit: $(UNIT_TESTS) $(BUILD)/ramm-agent $(BUILD)/rammd $(BUILD)/rammctl
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done
	$(PYTHON) tests/agent/test_kernel_mode.py $(BUILD)/ramm-agent
	$(PYTHON) tests/unit/check_docs.py
	bash tests/unit/check_completion.sh
	bash tests/unit/check_pve_args.sh
	MAKE="$(MAKE)" BUILD=$(BUILD) bash tests/unit/check_install.sh
	BUILD=$(BUILD) bash tests/unit/check_sandbox.sh

lab: all
	$(Q)$(PYTHON) tests/lab/lab.py build-initramfs

# Everything on Debian 12's kernel, then the guest-driver tests on every
# other kernel of the matrix.
# The Python suites add their counts to TALLY; the run closes with the sum,
# skips included.
TALLY := $(CURDIR)/$(BUILD)/test-tally
test: all unit fuzz kmod lab
	@rm -f $(TALLY)
	$(PYTHON) tests/sim/acceptance.py $(BUILD)/ramm-sim
	RAMM_TEST_TALLY=$(TALLY) $(MAKE) test-fleet
	RAMM_TEST_TALLY=$(TALLY) $(PYTHON) tests/e2e/run_all.py
	RAMM_TEST_TALLY=$(TALLY) $(MAKE) test-kernels SKIP_DEFAULT_KERNEL=1
	RAMM_TEST_TALLY=$(TALLY) SOAK_MINUTES=3 SOAK_SEED= $(PYTHON) tests/e2e/soak.py
	@awk '{p += $$1; f += $$2; s += $$3} END {printf "total: %d passed, %d failed, %d skipped\n", p, f, s}' $(TALLY)

# rammd against a fleet of fake guests (tests/fleet/): discovery, resizes,
# stalls, QEMU and agents vanishing, restart; no QEMU needed.
test-fleet: $(BUILD)/rammd $(BUILD)/rammctl
	RAMMD=$(BUILD)/rammd RAMMCTL=$(BUILD)/rammctl $(PYTHON) tests/fleet/run_tests.py

# rammd's CPU, RSS, tick time and `rammctl guests` time at 10, 100 and
# 1,000 fleet guests (BENCH_FLEET_ARGS, e.g. --sizes 10,100 --window 30).
bench-fleet: $(BUILD)/rammd $(BUILD)/rammctl
	RAMMD=$(BUILD)/rammd RAMMCTL=$(BUILD)/rammctl $(PYTHON) tests/fleet/bench_fleet.py $(BENCH_FLEET_ARGS)

test-kernels: all kmod
	@set -e; def=$$($(PYTHON) tests/lab/lab.py kernel); for v in $(KVERS); do \
		[ -n "$(SKIP_DEFAULT_KERNEL)" ] && [ "$$v" = "$$def" ] && continue; \
		echo "== kernel $$v"; RAMM_LAB_KERNEL=$$v $(PYTHON) tests/e2e/run_all.py test_kmod; done

demo: all lab
	$(PYTHON) tests/e2e/demo.py

# Three kernel-mode guests, shifting demand and faults for SOAK_MINUTES
# (fractions allowed) on the schedule SOAK_SEED draws (empty: soak.py's
# fixed default); the report goes to $(BUILD)/soak-report.json.
SOAK_MINUTES ?= 10
SOAK_SEED ?=
soak: all kmod lab
	SOAK_MINUTES=$(SOAK_MINUTES) SOAK_SEED=$(SOAK_SEED) $(PYTHON) tests/e2e/soak.py

# market_clear() timing against a sort-everything baseline; needs no QEMU.
$(BUILD)/bench_market: tests/bench/bench_market.c broker/market/market.c broker/market/market.h \
	common/bid_curve.c
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ $(filter %.c,$^)

# hugepool_read() against the /proc/meminfo read rammd does every tick.
$(BUILD)/bench_hostread: tests/bench/bench_hostread.c broker/daemon/hugepool.c broker/market/pages.c \
	common/proc_sample.c
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ $(filter %.c,$^)

sim-acceptance: $(BUILD)/ramm-sim
	$(PYTHON) tests/sim/acceptance.py $(BUILD)/ramm-sim

# Every policy on the Bitbrains VM traces in ../shared/traces (issue 13).
bench-sim: $(BUILD)/ramm-sim
	$(PYTHON) tests/sim/bench_sim.py $(BUILD)/ramm-sim

bench-market: $(BUILD)/bench_market
	$(BUILD)/bench_market

bench: $(BUILD)/bench_market $(BUILD)/bench_hostread all kmod lab
	$(BUILD)/bench_market
	$(BUILD)/bench_hostread
	$(PYTHON) tests/e2e/bench.py
	$(PYTHON) tests/e2e/bench_kmod.py
	$(PYTHON) tests/e2e/bench_evict.py

# rammd is a daemon (sbin, section 8). rammctl goes in bin, as ip(8) and
# ss(8) do: members of the ramm group run it too, and sbin is not in their
# PATH. The config is never overwritten; the unit's ExecStart follows SBINDIR.
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: $(BUILD)/rammd $(BUILD)/rammctl
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/ramm \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BUILD)/rammd $(DESTDIR)$(SBINDIR)/rammd
	install -m 0755 $(BUILD)/rammctl $(DESTDIR)$(BINDIR)/rammctl
	install -m 0755 qemu-plugins/proxmox/ramm-pve-args $(DESTDIR)$(SBINDIR)/ramm-pve-args
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/ramm/rammd.conf ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/ramm/rammd.conf"; \
	else install -m 0644 config/rammd.conf $(DESTDIR)$(SYSCONFDIR)/ramm/rammd.conf; fi
	sed -e 's#/usr/sbin/rammd#$(SBINDIR)/rammd#g' -e 's#/etc/ramm/#$(SYSCONFDIR)/ramm/#g' \
		config/rammd.service > $(DESTDIR)$(UNITDIR)/rammd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/rammd.service
	for m in rammd.8 rammctl.8 rammd.conf.5; do \
		gzip -9n < docs/man/$$m > $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m.gz; \
		chmod 0644 $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m.gz; done
	install -m 0644 config/rammctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/rammctl

clean:
	rm -rf $(BUILD)

help:
	@echo "make deps    install build/test/demo packages (apt-get, idempotent)"
	@echo "make         build rammd, rammctl, ramm-agent, ramm-hog, ramm-sim into $(BUILD)/"
	@echo "make sim-acceptance  ramm-sim: ramm against the baselines on every scenario"
	@echo "make fuzz    run each parser fuzzer for FUZZ_SECONDS (default 10)"
	@echo "make kmod    build ramm_guest.ko for every installed guest kernel"
	@echo "make test    unit tests, fuzzers, then lab tests against real QEMU guests"
	@echo "make test-kernels  the guest-driver tests on every kernel of the matrix"
	@echo "make demo    three guests, rammd, shifting demand"
	@echo "make soak    SOAK_MINUTES=10 SOAK_SEED=  three kernel-mode guests, random demand and faults"
	@echo "make bench   demand-to-plug latency, split into decision and plug time"
	@echo "make bench-market  market_clear() timing only (no QEMU)"
	@echo "make bench-sim     every policy on real VM traces (../shared/traces), per host and in total"
	@echo "make test-fleet    rammd against a fleet of fake guests (no QEMU)"
	@echo "make bench-fleet   rammd's CPU, RSS and tick time at 10, 100, 1,000 fake guests"
	@echo "make install PREFIX=/usr/local DESTDIR=  rammd, rammctl, config, systemd unit, man pages, completion"

.SECONDARY:

.PHONY: all deps unit fuzz kmod lab test test-kernels demo soak bench bench-market install clean help \
	sim-acceptance test-fleet bench-fleet bench-sim

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
