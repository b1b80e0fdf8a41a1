# SPDX-License-Identifier: GPL-2.0
#
# make demo    build everything and run the demo (the main job)
# make check   build everything and run every test
# make bench   measure what MKTME costs the kernel (on the model, -icount)
# make shell   boot the guest with a shell on the console
# make series  emit the kernel series as git format-patch files
# make install install mktmectl, libmktme and pam_mktme (PREFIX, DESTDIR)
# make debs    build the Debian packages of them into build/deb
#
# Both main targets install what they need (apt, as root) on Debian 12.

S := scripts

.PHONY: all userspace install debs deps qemu kernel kernel-debug kernel-nomktme initramfs emulator-tests build check demo bench shell series clean distclean

all: build

deps:
	@$(S)/install-deps.sh
	@$(S)/fetch-sources.sh

qemu: deps
	@$(S)/build-qemu.sh

kernel: deps
	@$(S)/build-kernel.sh

# The debug kernel of make check's guest-debug run, in build/kbuild-debug
kernel-debug: deps
	@MKTME_KBUILD=$(CURDIR)/build/kbuild-debug \
		MKTME_KCONFIG=$(CURDIR)/tools/testing/selftests/mktme/config.debug \
		$(S)/build-kernel.sh

initramfs: kernel
	@$(S)/build-initramfs.sh

emulator-tests: qemu
	@$(MAKE) -s -C emulator/tests/baremetal
	@$(MAKE) -s -C emulator/tests/host

build: qemu kernel initramfs emulator-tests

check: build kernel-debug
	@$(S)/check.sh

demo: build
	@python3 demo/demo.py

# The reference kernel of make bench: the same tree and config, no MKTME
kernel-nomktme: deps
	@MKTME_KBUILD=$(CURDIR)/build/kbuild-nomktme \
		MKTME_KCONFIG=$(CURDIR)/bench/config.nomktme \
		$(S)/build-kernel.sh

bench: build kernel-nomktme
	@python3 bench/bench.py --runs 2 -- $(BENCH_ARGS)

shell: build
	@$(S)/run-guest.sh --shell

series: deps
	@$(S)/format-series.sh

# The user-space half, which needs no kernel build: libmktme, mktmectl
# (linked dynamically) and pam_mktme, in build/userspace.  make install
# takes PREFIX (/usr/local), LIBDIR ($(PREFIX)/lib), PAMDIR (where
# libpam looks for modules: /lib/x86_64-linux-gnu/security on Debian;
# $(LIBDIR)/security unless given) and DESTDIR.
USERSPACE = $(foreach t,libmktme mktmectl pam_mktme,$(MAKE) -s -C tools/$(t) \
	O=$(CURDIR)/build/userspace/$(t) LIBMKTME_O=$(CURDIR)/build/userspace/libmktme $(1) &&) true

userspace:
	@$(call USERSPACE,all)

install: userspace
	@$(call USERSPACE,install)

debs:
	@$(S)/build-debs.sh

clean:
	rm -rf build/userspace build/deb build/kbuild build/kbuild-debug build/kbuild-nomktme build/initramfs build/check build/run build/demo build/bench build/qemu/obj build/emulator-tests build/series build/series-git

distclean:
	rm -rf build
