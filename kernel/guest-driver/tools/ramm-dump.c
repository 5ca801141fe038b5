/* SPDX-License-Identifier: MIT */
/*
 * ramm-dump: a test client for /dev/ramm (ramm_guest.ko), used in the lab
 * guests where ramm-agent is not wanted. Built static so it runs in the
 * busybox initramfs:  make -C kernel/guest-driver tools
 *
 *   ramm-dump [-d DEV] read [-n N] [-N]     print N records (-N: O_NONBLOCK)
 *   ramm-dump [-d DEV] watch [-n N] [-t S]  poll() for N records or S seconds;
 *                                           each line also shows the poll
 *                                           events and the delay from the
 *                                           record's sampling to its read
 *   ramm-dump [-d DEV] welcome UNIT FLOOR CAP SIZE
 *   ramm-dump [-d DEV] boot SIZE            the guest's boot memory
 *   ramm-dump [-d DEV] grant TARGET PRICE
 *   ramm-dump [-d DEV] evict UNITS DEADLINE_MS [ID]
 *   ramm-dump [-d DEV] raw VERSION TYPE A B C D  write any message
 *   ramm-dump [-d DEV] spin S                for S seconds, write a welcome
 *                                           and read the record it makes,
 *                                           again and again: keeps krammd
 *                                           sampling (and scanning) back
 *                                           to back
 *   ramm-dump [-d DEV] write-size N          write N bytes (size check)
 *   ramm-dump [-d DEV] read-size N           read into N bytes (size check)
 *
 * Writes print "ok" or "error: <errno name>" and exit 0 or 1. Numbers may be
 * decimal or 0x hex; sizes take a K/M/G suffix.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ramm/proto.h"

static const char *dev = "/dev/" RAMM_DEV_NAME;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ramm-dump [-d DEV] read [-n N] [-N] | watch [-n N] [-t S] |\n"
	    "       welcome UNIT FLOOR CAP SIZE | boot SIZE | grant TARGET PRICE |\n"
	    "       evict UNITS DEADLINE_MS [ID] | raw V T A B C D | spin S |\n"
	    "       write-size N | read-size N\n");
	exit(2);
}

/* Parse a number with an optional K/M/G suffix; exits on junk. */
static uint64_t
num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		usage();
	switch (*end) {
	case 'K': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		usage();
	return v;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
print_hist(const char *name, const uint64_t *h)
{
	printf(" %s=", name);
	for (int i = 0; i < RAMM_HIST_SIZES; i++)
		printf("%s%" PRIu64, i ? "," : "", h[i]);
}

static void
print_record(const struct ramm_dev_record *r)
{
	printf("seq=%" PRIu64 " ts=%" PRIu64 " flags=%s%s%s%s%s%s", r->seq,
	    r->timestamp_ns, r->flags ? "" : "-",
	    r->flags & RAMM_REC_URGENT ? "U" : "",
	    r->flags & RAMM_REC_SHRINKER ? "S" : "",
	    r->flags & RAMM_REC_OOM ? "O" : "",
	    r->flags & RAMM_REC_WELCOMED ? "W" : "",
	    r->flags & RAMM_REC_EVICTING ? "E" : "");
	printf(" evict_id=%" PRIu64, r->evict_id);
	printf(" total_kib=%" PRIu64 " free_kib=%" PRIu64
	    " avail_kib=%" PRIu64 " refault_anon=%" PRIu64
	    " refault_file=%" PRIu64 " shrinker=%" PRIu64 " oom=%" PRIu64
	    " vmem_online_kib=%" PRIu64 " kernel_free_kib=%" PRIu64,
	    r->mem_total_kib, r->mem_free_kib, r->mem_available_kib,
	    r->refault_anon, r->refault_file, r->shrinker_scans,
	    r->oom_events, r->vmem_online_kib, r->kernel_free_kib);
	print_hist("hist_vmem", r->hist_vmem);
	print_hist("hist_all", r->hist_all);
	printf(" unit=%" PRIu64 " bid=[", r->unit_bytes);
	for (uint32_t i = 0; i < r->n_bid && i < RAMM_MAX_BID_STEPS; i++)
		printf("%s[%u,%u]", i ? "," : "", r->bid[i].units,
		    r->bid[i].price);
	printf("]");
	if (r->version != RAMM_DEV_VERSION || r->size != sizeof(*r) ||
	    r->n_bid > RAMM_MAX_BID_STEPS)
		printf(" BAD(version=%u size=%u n_bid=%u)", r->version, r->size,
		    r->n_bid);
}

static int
open_dev(int flags)
{
	int fd = open(dev, flags | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "ramm-dump: %s: %s\n", dev, strerror(errno));
		exit(1);
	}
	return fd;
}

static int
cmd_read(long n, int nonblock)
{
	struct ramm_dev_record r;
	int fd = open_dev(O_RDONLY | (nonblock ? O_NONBLOCK : 0));

	for (long i = 0; i < n; i++) {
		ssize_t got = read(fd, &r, sizeof(r));

		if (got < 0) {
			printf("error: %s\n", strerrorname_np(errno));
			return 1;
		}
		if (got != (ssize_t)sizeof(r)) {
			printf("error: short read %zd\n", got);
			return 1;
		}
		print_record(&r);
		printf("\n");
		fflush(stdout);
	}
	close(fd);
	return 0;
}

static int
cmd_watch(long n, long seconds)
{
	struct ramm_dev_record r;
	uint64_t end = now_ns() + (uint64_t)seconds * 1000000000ull;
	int fd = open_dev(O_RDONLY | O_NONBLOCK);

	for (long i = 0; i < n;) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI };
		uint64_t t = now_ns();
		int ret;

		if (t >= end)
			break;
		ret = poll(&p, 1, (int)((end - t) / 1000000) + 1);
		if (ret < 0) {
			perror("poll");
			return 1;
		}
		if (ret == 0)
			continue;
		t = now_ns();
		if (read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
			printf("error: read: %s\n", strerrorname_np(errno));
			return 1;
		}
		printf("poll=%s%s delay_us=%" PRIu64 " ",
		    p.revents & POLLIN ? "IN" : "",
		    p.revents & POLLPRI ? "+PRI" : "",
		    (t - r.timestamp_ns) / 1000);
		print_record(&r);
		printf("\n");
		fflush(stdout);
		i++;
	}
	close(fd);
	return 0;
}

/*
 * Each welcome makes krammd publish at once, so writing one and reading the
 * record it caused keeps krammd busy sampling for @seconds. A welcome with
 * floor 0 and size 0 changes nothing the tests look at.
 */
static int
cmd_spin(long seconds)
{
	const struct ramm_dev_msg m = {
		.version = RAMM_DEV_VERSION, .type = RAMM_DEV_MSG_WELCOME,
		.a = 2ull << 20, .b = 0, .c = 1ull << 40, .d = 0,
	};
	struct ramm_dev_record r;
	uint64_t end = now_ns() + (uint64_t)seconds * 1000000000ull;
	int fd = open_dev(O_RDWR);
	long n = 0;

	if (read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		goto fail;
	while (now_ns() < end) {
		if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m) ||
		    read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			goto fail;
		n++;
	}
	printf("spin records=%ld last_seq=%" PRIu64 "\n", n, r.seq);
	close(fd);
	return 0;
fail:
	printf("error: %s\n", strerrorname_np(errno));
	close(fd);
	return 1;
}

static int
write_bytes(const void *buf, size_t len)
{
	int fd = open_dev(O_WRONLY);
	ssize_t ret = write(fd, buf, len);

	if (ret < 0) {
		printf("error: %s\n", strerrorname_np(errno));
		close(fd);
		return 1;
	}
	printf("ok %zd\n", ret);
	close(fd);
	return 0;
}

static int
send_msg(uint32_t version, uint32_t type, uint64_t a, uint64_t b, uint64_t c,
    uint64_t d)
{
	struct ramm_dev_msg m = {
		.version = version, .type = type, .a = a, .b = b, .c = c, .d = d,
	};

	return write_bytes(&m, sizeof(m));
}

int
main(int argc, char **argv)
{
	long n = 1, seconds = 10;
	int nonblock = 0, i = 1;
	const char *cmd;

	if (i + 1 < argc && strcmp(argv[i], "-d") == 0) {
		dev = argv[i + 1];
		i += 2;
	}
	if (i >= argc)
		usage();
	cmd = argv[i++];
	if (strcmp(cmd, "read") == 0 || strcmp(cmd, "watch") == 0) {
		for (; i < argc; i++) {
			if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
				n = (long)num(argv[++i]);
			else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
				seconds = (long)num(argv[++i]);
			else if (strcmp(argv[i], "-N") == 0)
				nonblock = 1;
			else
				usage();
		}
		return cmd[0] == 'r' ? cmd_read(n, nonblock) :
		    cmd_watch(n, seconds);
	}
	if (strcmp(cmd, "welcome") == 0 && argc - i == 4)
		return send_msg(RAMM_DEV_VERSION, RAMM_DEV_MSG_WELCOME,
		    num(argv[i]), num(argv[i + 1]), num(argv[i + 2]),
		    num(argv[i + 3]));
	if (strcmp(cmd, "boot") == 0 && argc - i == 1)
		return send_msg(RAMM_DEV_VERSION, RAMM_DEV_MSG_BOOT,
		    num(argv[i]), 0, 0, 0);
	if (strcmp(cmd, "grant") == 0 && argc - i == 2)
		return send_msg(RAMM_DEV_VERSION, RAMM_DEV_MSG_GRANT,
		    num(argv[i]), num(argv[i + 1]), 0, 0);
	if (strcmp(cmd, "evict") == 0 && (argc - i == 2 || argc - i == 3))
		return send_msg(RAMM_DEV_VERSION, RAMM_DEV_MSG_EVICT,
		    num(argv[i]), num(argv[i + 1]),
		    argc - i == 3 ? num(argv[i + 2]) : 0, 0);
	if (strcmp(cmd, "raw") == 0 && argc - i == 6)
		return send_msg((uint32_t)num(argv[i]), (uint32_t)num(argv[i + 1]),
		    num(argv[i + 2]), num(argv[i + 3]), num(argv[i + 4]),
		    num(argv[i + 5]));
	if (strcmp(cmd, "spin") == 0 && argc - i == 1)
		return cmd_spin((long)num(argv[i]));
	if (strcmp(cmd, "write-size") == 0 && argc - i == 1) {
		static char buf[4096];
		uint64_t len = num(argv[i]);

		if (len > sizeof(buf))
			usage();
		return write_bytes(buf, (size_t)len);
	}
	if (strcmp(cmd, "read-size") == 0 && argc - i == 1) {
		static char buf[4096];
		uint64_t len = num(argv[i]);
		int fd = open_dev(O_RDONLY | O_NONBLOCK);
		ssize_t ret;

		if (len > sizeof(buf))
			usage();
		ret = read(fd, buf, (size_t)len);
		if (ret < 0)
			printf("error: %s\n", strerrorname_np(errno));
		else
			printf("ok %zd\n", ret);
		close(fd);
		return ret < 0;
	}
	usage();
}
