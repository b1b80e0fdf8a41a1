// SPDX-License-Identifier: GPL-2.0
/*
 * O_DIRECT I/O between a virtio-blk disk and encrypted buffers: the device
 * reaches an encrypted page through its KeyID (the DMA address carries
 * it), so the disk receives plaintext, an encrypted buffer receives data
 * that DRAM holds as ciphertext, and a request never mixes two KeyIDs in
 * one segment.  The disk is /dev/vda (scripts/run-guest.sh attaches one);
 * its contents are scratch.  Behind an IOMMU in translation mode
 * (run-guest.sh --iommu) the IOMMU's page tables carry the KeyID instead.
 * HMM mirrors (lib/test_hmm.c) map pages by PFN, without the KeyID: they
 * are refused for encrypted memory.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../../../../lib/test_hmm_uapi.h"

#include "../kselftest_harness.h"
#include "mktme_util.h"

#define DISK	"/dev/vda"
#define HPAGE	(2UL << 20)

FIXTURE(dma) {
	long page;
	int fd, key, keyid;
};

FIXTURE_SETUP(dma)
{
	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	self->fd = open(DISK, O_RDWR | O_DIRECT);
	if (self->fd < 0)
		SKIP(return, "no virtio disk %s (%s): scripts/run-guest.sh attaches one",
		     DISK, strerror(errno));
	self->page = sysconf(_SC_PAGESIZE);
	self->key = add_mktme_key("dma", "type=cpu");
	ASSERT_LT(0, self->key);
	self->keyid = key_keyid(self->key);
}

FIXTURE_TEARDOWN(dma)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Fill with a pattern that differs in every line of every page */
static void fill(char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(i * 7 + (i >> 12) * 13 + seed);
}

static char *map(size_t len)
{
	char *p = map_anon(len);

	return p == MAP_FAILED ? NULL : p;
}

static char *map_encrypted_or_null(int key, size_t len)
{
	char *p = map_encrypted(len, key);

	return p == MAP_FAILED ? NULL : p;
}

TEST_F(dma, write_from_an_encrypted_buffer)
{
	size_t len = 64 << 10;
	char *enc = map_encrypted_or_null(self->key, len), *plain = map(len), *want = map(len);

	ASSERT_NE(NULL, enc);
	ASSERT_NE(NULL, plain);
	ASSERT_NE(NULL, want);
	fill(enc, len, 1);
	fill(want, len, 1);
	EXPECT_EQ(1, dram_is_ciphertext(enc, len));
	ASSERT_EQ((ssize_t)len, pwrite(self->fd, enc, len, 0));
	/* the disk got the plaintext */
	ASSERT_EQ((ssize_t)len, pread(self->fd, plain, len, 0));
	EXPECT_EQ(0, memcmp(plain, want, len));
}

TEST_F(dma, read_into_an_encrypted_buffer)
{
	size_t len = 64 << 10;
	char *enc = map_encrypted_or_null(self->key, len), *plain = map(len);

	ASSERT_NE(NULL, enc);
	ASSERT_NE(NULL, plain);
	fill(plain, len, 2);
	ASSERT_EQ((ssize_t)len, pwrite(self->fd, plain, len, 1 << 20));
	/* untouched: the read faults the pages in under the key */
	ASSERT_EQ((ssize_t)len, pread(self->fd, enc, len, 1 << 20));
	EXPECT_EQ(0, memcmp(enc, plain, len));
	EXPECT_EQ(self->keyid, smaps_keyid(enc));
	EXPECT_EQ(1, dram_is_ciphertext(enc, len));
}

/* 1 MiB in one request: many segments, each through its own bounce in the model */
TEST_F_TIMEOUT(dma, one_request_of_many_encrypted_pages, 600)
{
	size_t len = 1 << 20;
	char *enc = map_encrypted_or_null(self->key, len), *back = map_encrypted_or_null(self->key, len);

	ASSERT_NE(NULL, enc);
	ASSERT_NE(NULL, back);
	fill(enc, len, 3);
	ASSERT_EQ((ssize_t)len, pwrite(self->fd, enc, len, 2 << 20));
	ASSERT_EQ((ssize_t)len, pread(self->fd, back, len, 2 << 20));
	EXPECT_EQ(0, memcmp(enc, back, len));
	EXPECT_EQ(1, dram_is_ciphertext(back, len));
}

/*
 * A huge page of which the second half is encrypted: physically
 * contiguous pages of two KeyIDs, which the block layer must not merge
 * into one DMA segment.
 */
TEST_F_TIMEOUT(dma, contiguous_pages_of_two_keyids, 600)
{
	char *raw = map(3 * HPAGE), *p, *want = map(HPAGE), *back = map(HPAGE);
	size_t half = HPAGE / 2;

	ASSERT_NE(NULL, raw);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, back);
	p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	/* huge pages on fault for madvised ranges (the default may be never) */
	write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_HUGEPAGE));
	fill(p, HPAGE, 4);
	fill(want, HPAGE, 4);
	if (phys_addr_of(p + HPAGE - 1) - phys_addr_of(p) != HPAGE - 1)
		SKIP(return, "no huge page: the buffer is not physically contiguous");
	ASSERT_EQ(0, sys_encrypt_mprotect(p + half, half, PROT_READ | PROT_WRITE, self->key, 0));
	EXPECT_EQ(0, memcmp(p, want, HPAGE));
	EXPECT_EQ(-1, dram_is_ciphertext(p, half));	/* KeyID 0: not shown */
	EXPECT_EQ(1, dram_is_ciphertext(p + half, half));

	ASSERT_EQ((ssize_t)HPAGE, pwrite(self->fd, p, HPAGE, 4 << 20));
	ASSERT_EQ((ssize_t)HPAGE, pread(self->fd, back, HPAGE, 4 << 20));
	EXPECT_EQ(0, memcmp(back, want, HPAGE));

	fill(back, HPAGE, 5);
	fill(want, HPAGE, 5);
	ASSERT_EQ((ssize_t)HPAGE, pwrite(self->fd, back, HPAGE, 4 << 20));
	ASSERT_EQ((ssize_t)HPAGE, pread(self->fd, p, HPAGE, 4 << 20));
	EXPECT_EQ(0, memcmp(p, want, HPAGE));
	EXPECT_EQ(1, dram_is_ciphertext(p + half, half));
	munmap(raw, 3 * HPAGE);
}

/* The IOMMU domain type of the disk's PCI device: "DMA", "DMA-FQ", "identity"... */
static int disk_iommu_type(char *type, size_t size)
{
	char path[PATH_MAX], *dev = realpath("/sys/block/vda/device/..", NULL);
	FILE *f;
	int ret = -1;

	if (!dev)
		return -1;
	snprintf(path, sizeof(path), "%s/iommu_group/type", dev);
	free(dev);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(type, size, f)) {
		type[strcspn(type, "\n")] = '\0';
		ret = 0;
	}
	fclose(f);
	return ret;
}

/*
 * Through an IOMMU in translation mode the device's address is an IOVA:
 * the KeyID must be in the IOMMU's page tables, or the disk gets the
 * ciphertext and the buffer garbage.  Single pages and a request of many
 * segments (iommu_map_sg()).
 */
TEST_F_TIMEOUT(dma, iommu_translated_o_direct_keeps_keyid, 600)
{
	size_t len = 512 << 10;
	char type[32], *enc, *plain, *want;

	if (disk_iommu_type(type, sizeof(type)))
		SKIP(return, "the disk is not behind an IOMMU (scripts/run-guest.sh --iommu)");
	if (strncmp(type, "DMA", 3))
		SKIP(return, "the disk's IOMMU domain is %s, not translating", type);
	enc = map_encrypted_or_null(self->key, len);
	plain = map(len);
	want = map(len);
	ASSERT_NE(NULL, enc);
	ASSERT_NE(NULL, plain);
	ASSERT_NE(NULL, want);
	fill(enc, len, 6);
	fill(want, len, 6);
	ASSERT_EQ((ssize_t)len, pwrite(self->fd, enc, len, 8 << 20));
	ASSERT_EQ((ssize_t)len, pread(self->fd, plain, len, 8 << 20));
	EXPECT_EQ(0, memcmp(plain, want, len));
	memset(enc, 0, len);
	ASSERT_EQ((ssize_t)len, pread(self->fd, enc, len, 8 << 20));
	EXPECT_EQ(0, memcmp(enc, want, len));
	EXPECT_EQ(self->keyid, smaps_keyid(enc));
	EXPECT_EQ(1, dram_is_ciphertext(enc, len));
	/* one page at a time: iommu_dma_map_page() */
	fill(want, self->page, 7);
	memcpy(enc, want, self->page);
	ASSERT_EQ(self->page, pwrite(self->fd, enc, self->page, 9 << 20));
	ASSERT_EQ(self->page, pread(self->fd, plain, self->page, 9 << 20));
	EXPECT_EQ(0, memcmp(plain, want, self->page));
}

static int hmm_cmd(int fd, unsigned long req, void *addr, void *buf, size_t len, long page)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)buf,
		.npages = len / page,
	};

	return ioctl(fd, req, &cmd) ? -errno : 0;
}

/*
 * An HMM mirror maps the process's pages into a device by PFN, without
 * the KeyID: for encrypted memory hmm_range_fault() says EFAULT and
 * migration to device memory EINVAL.  Plain memory mirrors and migrates.
 */
TEST_F(dma, hmm_mirror_of_encrypted_memory_refused)
{
	size_t len = 16 * self->page;
	char *enc, *plain, *mirror;
	int fd = open("/dev/hmm_dmirror0", O_RDWR);

	if (fd < 0)
		SKIP(return, "no /dev/hmm_dmirror0 (%s): CONFIG_TEST_HMM", strerror(errno));
	enc = map_encrypted_or_null(self->key, len);
	plain = map(len);
	mirror = map(len);
	ASSERT_NE(NULL, enc);
	ASSERT_NE(NULL, plain);
	ASSERT_NE(NULL, mirror);
	fill(plain, len, 8);
	fill(enc, len, 8);
	ASSERT_EQ(0, hmm_cmd(fd, HMM_DMIRROR_READ, plain, mirror, len, self->page));
	EXPECT_EQ(0, memcmp(mirror, plain, len));
	EXPECT_EQ(-EFAULT, hmm_cmd(fd, HMM_DMIRROR_READ, enc, mirror, len, self->page));
	EXPECT_EQ(-EFAULT, hmm_cmd(fd, HMM_DMIRROR_WRITE, enc, mirror, len, self->page));
	EXPECT_EQ(-EINVAL, hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, enc, mirror, len, self->page));
	EXPECT_EQ(0, hmm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, plain, mirror, len, self->page));
	/* the CPU's access migrates it back */
	fill(mirror, len, 8);
	EXPECT_EQ(0, memcmp(plain, mirror, len));
	/* and the encrypted memory is as it was */
	EXPECT_EQ(0, memcmp(enc, mirror, len));
	EXPECT_EQ(self->keyid, smaps_keyid(enc));
	close(fd);
}

TEST_HARNESS_MAIN
