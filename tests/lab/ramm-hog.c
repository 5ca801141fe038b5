/* SPDX-License-Identifier: MIT */
/*
 * ramm-hog: a guest workload for the lab that holds a chosen amount of
 * anonymous memory and can be steered while it runs.
 *
 *   ramm-hog run [--ctl PATH] [--step-mib N] [--step-ms N] [--reserve-mib N]
 *                [--greedy] [--target MIB]
 *   ramm-hog set MIB [--ctl PATH]
 *   ramm-hog free [--ctl PATH]
 *   ramm-hog quit [--ctl PATH]
 *   ramm-hog status [--ctl PATH]
 *   ramm-hog pgtables MIB
 *
 * "run" creates the FIFO PATH (default /run/ramm-hog.ctl) and PATH.pid, then
 * moves the memory it holds toward the target by one step every step-ms:
 * growing maps a step of anonymous memory and writes every page, shrinking
 * unmaps the newest chunk. It grows politely: only while MemAvailable is at
 * least one step plus the reserve, otherwise it waits (waiting=1) for the
 * broker to plug more memory instead of pushing the guest into the OOM
 * killer; --greedy grows regardless, into reclaim. After every change it replaces PATH.status with
 * "held_mib=N target_mib=M waiting=0|1". It reads "set N", "free" and "quit"
 * lines from the FIFO; the other subcommands write those lines. "status"
 * prints PATH.status plus "running=0|1" (0 after an OOM kill, for one).
 *
 * Polite or greedy, "run" also writes one stderr line, stamped with the
 * guest's CLOCK_MONOTONIC, each time the guest falls short and each time it
 * has room again, so that a test can measure grant latency in the guest's
 * own time. Short: the hog is below its target and MemAvailable is under
 * its next step plus the reserve (a greedy hog at its target stays short
 * until MemAvailable is back above the reserve):
 *   ramm-hog: t=S.mmm short held_mib=N target_mib=M avail_mib=A
 *   ramm-hog: t=S.mmm granted after_ms=D held_mib=N target_mib=M avail_mib=A
 *   ramm-hog: t=S.mmm cancelled after_ms=D held_mib=N target_mib=M
 * "cancelled": the target fell to what it holds, or the hog stopped, while
 * still short.
 *
 * "pgtables" makes the kernel allocate about MIB of page tables, which only
 * the kernel's own zones (not ZONE_MOVABLE) can hold: it touches one page
 * in every 2 MiB of a sparse mapping, so each touch costs one page-table
 * page and one user page. It prints "pgtables_mib=N" once done and then
 * holds them until it is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CTL "/run/ramm-hog.ctl"
#define MAX_MIB (1u << 20)    /* 1 TiB: bound on any size */
#define MAX_CMD 64            /* longest FIFO command line */
#define MIB (1024ul * 1024ul)

struct chunk {
	void *p;       /* mmap'ed, every page written */
	size_t mib;    /* its size */
};

struct hog {
	char ctl[PATH_MAX - 16]; /* FIFO path; room left for suffixes */
	unsigned step_mib, step_ms, reserve_mib;
	int greedy;              /* --greedy: grow without looking at MemAvailable */
	unsigned target_mib, held_mib;
	int waiting;             /* growth held back by low MemAvailable */
	int64_t short_since_ms;  /* CLOCK_MONOTONIC ms it fell short, or -1 */
	struct chunk *chunks;    /* held chunks, newest last */
	size_t n_chunks, cap_chunks;
	int fifo;                /* read end of the FIFO, or -1 */
	char line[MAX_CMD];      /* command being received */
	size_t line_len;
	int discarding;          /* skipping an over-long command */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *) __attribute__((noreturn));
static void usage(void) __attribute__((noreturn));

static void
die(const char *what)
{
	fprintf(stderr, "ramm-hog: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Parse a decimal 0..MAX_MIB (a size in MiB, or ms). Returns 0 or -1. */
static int
parse_uint(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > MAX_MIB)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* MemAvailable in MiB, or -1 if /proc/meminfo cannot be read. */
static long
mem_available_mib(void)
{
	char buf[4096], *p;
	ssize_t n;
	int fd;

	fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nMemAvailable:");
	if (p == NULL)
		return -1;
	return (long)(strtoul(p + 14, NULL, 10) / 1024);
}

static void
path_with(const struct hog *h, const char *suffix, char *out, size_t size)
{
	snprintf(out, size, "%s%s", h->ctl, suffix);
}

/* Replace PATH.status atomically. Failure is reported, not fatal. */
static void
write_status(const struct hog *h)
{
	char path[PATH_MAX], tmp[PATH_MAX], buf[96];
	int fd, n;

	path_with(h, ".status", path, sizeof(path));
	path_with(h, ".status.tmp", tmp, sizeof(tmp));
	n = snprintf(buf, sizeof(buf), "held_mib=%u target_mib=%u waiting=%d\n",
	    h->held_mib, h->target_mib, h->waiting);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0 && write(fd, buf, (size_t)n) != n) {
		close(fd);
		fd = -1;
	}
	if (fd < 0 || close(fd) < 0 || rename(tmp, path) < 0)
		fprintf(stderr, "ramm-hog: writing %s: %s\n", path,
		    strerror(errno));
}

/* Map and touch one chunk of @mib MiB. Returns 0, or -1 (nothing held). */
static int
grow(struct hog *h, unsigned mib)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)mib * MIB;
	char *p;

	if (h->n_chunks == h->cap_chunks) {
		size_t cap = h->cap_chunks ? 2 * h->cap_chunks : 64;
		struct chunk *c = realloc(h->chunks, cap * sizeof(*c));

		if (c == NULL)
			return -1;
		h->chunks = c;
		h->cap_chunks = cap;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	/* A write per page makes it resident (a read maps the zero page). */
	for (size_t off = 0; off < len; off += (size_t)page)
		p[off] = (char)(off / (size_t)page) | 1;
	h->chunks[h->n_chunks++] = (struct chunk){ p, mib };
	h->held_mib += mib;
	return 0;
}

/* Give back @mib MiB (at most the newest chunk) from the newest chunk. */
static void
shrink(struct hog *h, unsigned mib)
{
	struct chunk *c = &h->chunks[h->n_chunks - 1];

	if (mib > c->mib)
		mib = (unsigned)c->mib;
	c->mib -= mib;
	/* Unmapping the tail of a mapping is fine; the rest stays. */
	munmap((char *)c->p + c->mib * MIB, (size_t)mib * MIB);
	if (c->mib == 0)
		h->n_chunks--;
	h->held_mib -= mib;
}

static int64_t now_ms(void);

/* One "short" / "granted" / "cancelled" line (see the top comment), in
 * one write so a reader never sees half of it. */
static void
log_short(const struct hog *h, const char *what, int64_t now, long avail)
{
	char line[160];
	int n;

	n = snprintf(line, sizeof(line), "ramm-hog: t=%lld.%03lld %s",
	    (long long)(now / 1000), (long long)(now % 1000), what);
	if (h->short_since_ms >= 0 && strcmp(what, "short") != 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
		    " after_ms=%lld", (long long)(now - h->short_since_ms));
	n += snprintf(line + n, sizeof(line) - (size_t)n,
	    " held_mib=%u target_mib=%u", h->held_mib, h->target_mib);
	if (avail >= 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
		    " avail_mib=%ld", avail);
	snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	fputs(line, stderr);
}

/*
 * Follow whether the guest is short for the hog: below its target with
 * MemAvailable @avail under @need MiB. A greedy hog that grew to its target
 * while short stays short until MemAvailable is back above the reserve.
 */
static void
track_short(struct hog *h, long avail, unsigned need)
{
	int64_t now = now_ms();
	int wants = h->held_mib < h->target_mib ||
	    (h->greedy && h->short_since_ms >= 0 &&
	    h->held_mib == h->target_mib);

	if (avail < 0)
		return;
	if (h->short_since_ms < 0) {
		if (wants && (unsigned long)avail < need) {
			h->short_since_ms = now;
			log_short(h, "short", now, avail);
		}
	} else if (!wants) {
		log_short(h, "cancelled", now, -1);
		h->short_since_ms = -1;
	} else if ((unsigned long)avail >= need) {
		log_short(h, "granted", now, avail);
		h->short_since_ms = -1;
	}
}

/* One step toward the target: grow by a step if polite, or shrink. */
static void
step(struct hog *h)
{
	int waiting = 0, changed = 0;

	if (h->held_mib < h->target_mib) {
		unsigned mib = h->target_mib - h->held_mib;
		long avail;

		if (mib > h->step_mib)
			mib = h->step_mib;
		avail = mem_available_mib();
		track_short(h, avail, mib + h->reserve_mib);
		if (!h->greedy && avail >= 0 && (unsigned long)avail <
		    (unsigned long)mib + h->reserve_mib)
			waiting = 1;
		else if (grow(h, mib) < 0)
			waiting = 1;
		else
			changed = 1;
	} else if (h->short_since_ms >= 0) {
		/* At its target (greedy) or asked for less: still short? */
		track_short(h, mem_available_mib(), h->reserve_mib);
	}
	if (h->held_mib > h->target_mib) {
		unsigned mib = h->held_mib - h->target_mib;

		shrink(h, mib > h->step_mib ? h->step_mib : mib);
		changed = 1;
	}
	if (changed || waiting != h->waiting) {
		h->waiting = waiting;
		write_status(h);
	}
}

static int
open_fifo(struct hog *h)
{
	h->fifo = open(h->ctl, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	return h->fifo < 0 ? -1 : 0;
}

/* Act on one FIFO command. Returns 1 for "quit". */
static int
command(struct hog *h, const char *line)
{
	unsigned mib;

	if (strncmp(line, "set ", 4) == 0 && parse_uint(line + 4, &mib) == 0)
		h->target_mib = mib;
	else if (strcmp(line, "free") == 0)
		h->target_mib = 0;
	else if (strcmp(line, "quit") == 0)
		return 1;
	else {
		fprintf(stderr, "ramm-hog: bad command \"%.*s\"\n", MAX_CMD,
		    line);
		return 0;
	}
	write_status(h);
	return 0;
}

/* Read what the FIFO has; reopen it on EOF. Returns 1 on "quit". */
static int
read_fifo(struct hog *h)
{
	char buf[256];
	ssize_t n;

	for (;;) {
		n = read(h->fifo, buf, sizeof(buf));
		if (n < 0)
			return 0; /* EAGAIN: all read */
		if (n == 0) {
			/* Last writer gone: a fresh open clears POLLHUP. */
			close(h->fifo);
			if (open_fifo(h) < 0)
				die(h->ctl);
			return 0;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (h->line_len < MAX_CMD - 1)
					h->line[h->line_len++] = buf[i];
				else
					h->discarding = 1;
				continue;
			}
			h->line[h->line_len] = '\0';
			if (h->discarding)
				fprintf(stderr, "ramm-hog: command too long\n");
			else if (h->line_len > 0 && command(h, h->line))
				return 1;
			h->line_len = 0;
			h->discarding = 0;
		}
	}
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
cmd_run(struct hog *h)
{
	char pidpath[PATH_MAX], buf[32];
	struct sigaction sa = { .sa_handler = on_signal };
	struct stat st;
	int64_t next;
	int fd, n;

	if (mkfifo(h->ctl, 0600) < 0 && (errno != EEXIST ||
	    stat(h->ctl, &st) < 0 || !S_ISFIFO(st.st_mode)))
		die(h->ctl);
	if (open_fifo(h) < 0)
		die(h->ctl);
	path_with(h, ".pid", pidpath, sizeof(pidpath));
	fd = open(pidpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fd < 0 || write(fd, buf, (size_t)n) != n || close(fd) < 0)
		die(pidpath);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	write_status(h);

	next = now_ms();
	while (!stop) {
		struct pollfd pfd = { .fd = h->fifo, .events = POLLIN };
		int64_t now = now_ms();

		if (now >= next) {
			step(h);
			next = now + h->step_ms;
		}
		if (poll(&pfd, 1, (int)(next - now > 0 ? next - now : 0)) > 0 &&
		    read_fifo(h))
			break;
	}
	if (h->short_since_ms >= 0)
		log_short(h, "cancelled", now_ms(), -1);
	while (h->n_chunks > 0)
		shrink(h, (unsigned)h->chunks[h->n_chunks - 1].mib);
	h->target_mib = 0;
	h->waiting = 0;
	write_status(h);
	close(h->fifo);
	unlink(h->ctl);
	unlink(pidpath);
	return 0;
}

/* Write one command line to a running hog. */
static int
cmd_send(const struct hog *h, const char *line)
{
	size_t len = strlen(line);
	int fd = -1;

	/* ENXIO: no reader; it may be between a close and a reopen. */
	for (int i = 0; i < 20 && fd < 0; i++) {
		fd = open(h->ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 && errno != ENXIO)
			break;
		if (fd < 0)
			usleep(50000);
	}
	if (fd < 0) {
		fprintf(stderr, "ramm-hog: %s: %s%s\n", h->ctl, strerror(errno),
		    errno == ENXIO ? " (is `ramm-hog run` running?)" : "");
		return 1;
	}
	/* Under PIPE_BUF bytes: one atomic write. */
	if (write(fd, line, len) != (ssize_t)len) {
		fprintf(stderr, "ramm-hog: writing %s: %s\n", h->ctl,
		    strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

/* Print the status file, and whether the hog is still running. */
static int
cmd_status(const struct hog *h)
{
	char path[PATH_MAX], buf[256];
	long pid = 0;
	ssize_t n;
	FILE *f;
	int fd;

	path_with(h, ".status", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		die(path);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* An OOM kill leaves the last status behind: say so. */
	path_with(h, ".pid", path, sizeof(path));
	f = fopen(path, "re");
	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	printf("%s running=%d\n", buf, pid > 0 && kill((pid_t)pid, 0) == 0);
	return 0;
}

/* See "pgtables" above. Returns only on a failed mmap. */
static int
cmd_pgtables(unsigned mib)
{
	size_t n = (size_t)mib * (MIB / 4096); /* one page-table page each */
	size_t span = 2 * MIB;
	char *p;

	p = mmap(NULL, n * span, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("ramm-hog: mmap");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		p[i * span] = 1;
	printf("pgtables_mib=%u\n", mib);
	fflush(stdout);
	for (;;)
		pause();
}

static void
usage(void)
{
	fputs("usage: ramm-hog run [--ctl PATH] [--step-mib 16] [--step-ms 100]"
	    " [--reserve-mib 24] [--greedy] [--target MIB]\n"
	    "       ramm-hog set MIB [--ctl PATH]\n"
	    "       ramm-hog free|quit|status [--ctl PATH]\n"
	    "       ramm-hog pgtables MIB\n"
	    "PATH defaults to " DEFAULT_CTL "; the hog keeps PATH.pid and "
	    "PATH.status beside it.\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct hog h = {
		.step_mib = 16, .step_ms = 100, .reserve_mib = 24, .fifo = -1,
		.short_since_ms = -1,
	};
	const char *cmd, *ctl = DEFAULT_CTL;
	unsigned set_mib = 0;
	int have_mib = 0;
	char line[MAX_CMD];

	if (argc < 2)
		usage();
	cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *opt = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned *dst = NULL;

		if (strcmp(opt, "--greedy") == 0 && strcmp(cmd, "run") == 0) {
			/* Drive the guest into reclaim, as a real app would. */
			h.greedy = 1;
			continue;
		}
		if (strcmp(opt, "--ctl") == 0 && val) {
			ctl = val;
			i++;
			continue;
		}
		if (strcmp(opt, "--step-mib") == 0)
			dst = &h.step_mib;
		else if (strcmp(opt, "--step-ms") == 0)
			dst = &h.step_ms;
		else if (strcmp(opt, "--reserve-mib") == 0)
			dst = &h.reserve_mib;
		else if (strcmp(opt, "--target") == 0)
			dst = &h.target_mib;
		if (dst != NULL && val != NULL && strcmp(cmd, "run") == 0) {
			if (parse_uint(val, dst) < 0)
				usage();
			i++;
		} else if (dst == NULL && !have_mib &&
		    (strcmp(cmd, "set") == 0 || strcmp(cmd, "pgtables") == 0) &&
		    parse_uint(opt, &set_mib) == 0) {
			have_mib = 1;
		} else {
			usage();
		}
	}
	if (h.step_mib == 0 || h.step_ms == 0 || strlen(ctl) >= sizeof(h.ctl))
		usage();
	strcpy(h.ctl, ctl);

	if (strcmp(cmd, "run") == 0)
		return cmd_run(&h);
	if (strcmp(cmd, "set") == 0 && have_mib) {
		snprintf(line, sizeof(line), "set %u\n", set_mib);
		return cmd_send(&h, line);
	}
	if (strcmp(cmd, "pgtables") == 0 && have_mib && set_mib <= MAX_MIB)
		return cmd_pgtables(set_mib);
	if (strcmp(cmd, "free") == 0)
		return cmd_send(&h, "free\n");
	if (strcmp(cmd, "quit") == 0)
		return cmd_send(&h, "quit\n");
	if (strcmp(cmd, "status") == 0)
		return cmd_status(&h);
	usage();
}
