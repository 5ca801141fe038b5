/* SPDX-License-Identifier: MIT */
/*
 * ramm-agent: the guest side of the ramm agent channel (docs/PROTOCOL.md).
 *
 * Runs in the guest as root, statically linked, with no udev. It finds the
 * virtio-serial port org.ramm.agent.0 through /sys/class/virtio-ports, sends
 * "hello" when the port (re)connects and a "report" every interval, and an
 * urgent report as soon as memory pressure rises: when a PSI trigger fires,
 * or when MemAvailable falls below 8 % of MemTotal (checked every 200 ms,
 * because a guest without swap can fill up without ever stalling, and
 * because PSI triggers may be unavailable). The bid in each
 * report comes from the /proc fallback model (bid_model.c) once the broker's
 * "welcome" has told the unit, floor and cap. That is "proc" mode.
 *
 * Kernel mode: when /dev/ramm (ramm_guest.ko, the in-kernel agent) can be
 * opened at start, the agent says "mode":"kernel" in its hello and only
 * relays. Each record the device gives (one per read(), struct
 * ramm_dev_record) becomes one report (dev_record.c), urgent if the record
 * says so; there are no periodic /proc reports, PSI trigger or MemAvailable
 * checks then, though PSI avg10 and pgscan, which the record lacks, are
 * still read from /proc. Welcome, grant and evict from the broker are
 * written to the device as struct ramm_dev_msg. If the device fails (read
 * error, end of file, POLLERR/POLLHUP, a record of another ABI, or
 * DEV_MAX_BAD bad records in a row), the agent logs it, falls back to proc
 * mode with a new hello, and tries to open the device again every
 * DEV_RETRY_MS (doubling, up to DEV_RETRY_MAX_MS, after a stint that gave no
 * valid record), switching back with another hello.
 *
 * virtio-serial behaviour this file is written around:
 *   - while the host side is not connected, poll() reports POLLHUP (and
 *     POLLIN) and read() returns 0, for ever: the port is then left out of
 *     poll() and looked at again on the next tick;
 *   - writes while disconnected fail (EAGAIN, ENOTCONN, EPIPE): the message
 *     is dropped and counted, never queued;
 *   - only one process may have the port open (EBUSY otherwise).
 *
 * Everything is single-threaded around one poll() loop.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ramm/proto.h"
#include "bid_model.h"
#include "dev_record.h"
#include "linebuf.h"
#include "msg.h"
#include "proc_sample.h"
#include "unix_socket.h"

#define AGENT_NAME "ramm-agent"
#define AGENT_VERSION "0.1.0"

#define VPORT_SYSFS "/sys/class/virtio-ports"
#define PSI_MEMORY "/proc/pressure/memory"
#define BOOT_ID "/proc/sys/kernel/random/boot_id"
#define DEV_PATH "/dev/" RAMM_DEV_NAME

/*
 * PSI triggers: 100 ms of "some" stall in a 1 s window. Without
 * CAP_SYS_RESOURCE newer kernels only accept windows that are multiples of
 * 2 s, so that is tried second.
 */
static const char *const psi_triggers[] = {
	"some 100000 1000000",
	"some 200000 2000000",
};

#define URGENT_MIN_GAP_MS 200   /* at most 5 urgent reports per second */
#define LOW_CHECK_MS 200        /* MemAvailable polling */
#define READ_BUDGET (64 * 1024) /* bytes read per wakeup, then poll again */
#define LOG_BURST 10            /* broker-caused log lines per second */
#define AGENT_EVICT_PSI_MS 15000 /* PSI after an evict is the unplug's */
#define PORT_OPEN_FLAGS (O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
#define DEV_OPEN_FLAGS (O_RDWR | O_NONBLOCK | O_CLOEXEC)
#define DEV_MIN_GAP_MS 100      /* at most 10 record reports per second,
				 * well under the broker's 20 lines/s */
#define DEV_RETRY_MS 5000       /* reopen /dev/ramm in proc mode... */
#define DEV_RETRY_MAX_MS 80000  /* ...backing off to this after failures */
#define DEV_MAX_BAD 5           /* bad records in a row: give up the device */
#define DEV_STALL_MS 10000      /* no record for this long: log it */
#define DEV_ONCE_WAIT_MS 5000   /* --once: wait this long for a record */
#define THROTTLE_MS 10000       /* throttled log lines: one per 10 s */

enum port_state {
	PORT_CLOSED, /* no fd; (re)opened on the next tick */
	PORT_HUP,    /* fd open, peer absent; left out of poll() */
	PORT_UP,     /* fd open, peer present */
};

struct port {
	int fd;                 /* -1 when PORT_CLOSED */
	int is_sock;            /* unix socket: EOF means close and reconnect */
	enum port_state state;
	int last_err;           /* last open error, to log each one once */
	struct linebuf in;      /* lines from the broker, RAMM_MAX_LINE each */
	char out[RAMM_MAX_LINE]; /* unsent tail of a partly written line */
	size_t out_len;         /* bytes in @out */
};

/* A log line that may repeat: at most one per THROTTLE_MS. */
struct throttle {
	int64_t next_ms;        /* when the next line may go */
	uint64_t suppressed;    /* lines left out since the last */
};

struct agent {
	/* configuration */
	const char *port_path;  /* --port, or NULL to scan sysfs */
	int interval_ms;        /* --interval-ms */
	const char *dev_path;   /* --dev, DEV_PATH, or NULL for --no-dev */

	/* /dev/ramm: open in kernel mode, -1 in proc mode */
	int dev_fd;
	int dev_open_err;       /* last open error, to log each one once */
	int64_t dev_retry_ms;   /* proc mode: when to try opening it again */
	int dev_backoff_ms;     /* the retry interval now */
	int64_t dev_read_ms;    /* when a record was last read */
	int64_t dev_good_ms;    /* when the last valid record came (or the
				 * device was opened) */
	uint64_t dev_good;      /* valid records since the device was opened */
	int dev_bad_run;        /* bad records in a row */
	int dev_stalled;        /* a stall has been logged */
	uint64_t dev_seq;       /* seq of the last record reported */
	struct throttle rec_log, write_log;

	struct port port;
	int sig_fd;             /* signalfd for SIGINT/SIGTERM */
	int psi_fd;             /* armed PSI trigger, or -1 */

	/* from the last valid welcome */
	int have_welcome;
	uint64_t unit_bytes, floor_bytes, cap_bytes, size_bytes;
	uint64_t boot_bytes;    /* 0: the broker did not say */
	/* boot memory the kernel keeps out of MemTotal: the welcome's
	 * size_bytes less MemTotal, both read at the same moment */
	uint64_t reserved_kib;

	char boot_id[40];       /* validated [0-9a-f-], may be empty */
	uint64_t seq;           /* seq of the last report built */
	int need_hello;         /* send hello before the next report */
	int report_now;         /* report early (after a welcome), at most
				 * one per URGENT_MIN_GAP_MS */
	int64_t last_report_ms; /* when the last report was made */
	int urgent_pending;     /* an urgent report is due */
	int64_t last_urgent_ms; /* when the last urgent report went */
	int was_low;            /* MemAvailable was low at the last check */
	int64_t last_evict_ms;  /* the broker's last evict notice, 0: none */
	struct bid_rise rise;   /* proc mode: how fast the working set rose */
	int have_evict_note;    /* @evict_note is set: an evict was written
				 * to the device since it was opened */
	struct dev_evict_note evict_note; /* the evict last written */
	int dropping;           /* sends to a connected port fail (logged) */
	int sample_err;         /* last proc_sample_read() error logged */

	/* counters, logged at exit */
	uint64_t sent, dropped, bad_lines, oversize;
	uint64_t records, bad_records, dev_writes, dev_write_errors;

	/* log throttle for what the broker makes us log */
	int64_t log_window_ms;
	int log_count;
	uint64_t log_suppressed;
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(AGENT_NAME ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* CLOCK_MONOTONIC in ns: the clock of the records' timestamp_ns. */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Broker-caused logging: at most LOG_BURST lines per second. */
static int
log_allow(struct agent *a)
{
	int64_t now = now_ms();

	if (now - a->log_window_ms >= 1000) {
		if (a->log_suppressed)
			logmsg("%" PRIu64 " broker log lines suppressed",
			    a->log_suppressed);
		a->log_window_ms = now;
		a->log_count = 0;
		a->log_suppressed = 0;
	}
	if (a->log_count >= LOG_BURST) {
		a->log_suppressed++;
		return 0;
	}
	a->log_count++;
	return 1;
}

static void tlog(struct throttle *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Log a line that may repeat: at most one per THROTTLE_MS, counting the
 * ones left out. */
static void
tlog(struct throttle *t, const char *fmt, ...)
{
	int64_t now = now_ms();
	char buf[256];
	va_list ap;

	if (now < t->next_ms) {
		t->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (t->suppressed)
		logmsg("%s (%" PRIu64 " more like it since the last)", buf,
		    t->suppressed);
	else
		logmsg("%s", buf);
	t->suppressed = 0;
	t->next_ms = now + THROTTLE_MS;
}

/* Copy @s into @dst (size @size) with non-printable bytes as '?'. */
static const char *
printable(const char *s, char *dst, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		dst[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	dst[i] = '\0';
	return dst;
}

/* ---- the port ---------------------------------------------------------- */

/*
 * find_vport - find the /dev node of the virtio-serial port named
 * RAMM_AGENT_PORT_NAME. Writes it to @path (size @size).
 * Returns 0, -ENOENT if no port has that name, or another -errno.
 */
static int
find_vport(char *path, size_t size)
{
	struct dirent *de;
	DIR *dir;
	int r = -ENOENT;

	dir = opendir(VPORT_SYSFS);
	if (dir == NULL)
		return -errno;
	while ((de = readdir(dir)) != NULL) {
		char name_path[PATH_MAX], name[64];
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		n = snprintf(name_path, sizeof(name_path), "%s/%s/name",
		    VPORT_SYSFS, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(name_path))
			continue;
		fd = open(name_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (n <= 0)
			continue;
		name[n] = '\0';
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, RAMM_AGENT_PORT_NAME) != 0)
			continue;
		n = snprintf(path, size, "/dev/%s", de->d_name);
		r = (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : 0;
		break;
	}
	closedir(dir);
	return r;
}

static void
port_reset_buffers(struct port *p)
{
	linebuf_reset(&p->in);
	p->out_len = 0;
}

static void
port_close(struct port *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->state = PORT_CLOSED;
	port_reset_buffers(p);
}

static void
port_set_up(struct agent *a)
{
	port_reset_buffers(&a->port);
	a->port.state = PORT_UP;
	a->need_hello = 1;
	logmsg("port connected");
}

static void
port_set_down(struct agent *a, const char *why)
{
	struct port *p = &a->port;

	if (p->state == PORT_UP)
		logmsg("port disconnected (%s)", why);
	if (p->is_sock) {
		port_close(p);
	} else {
		port_reset_buffers(p);
		p->state = PORT_HUP;
	}
}

/*
 * port_check - for an open port whose peer was absent, see whether the peer
 * is there now, without reading. Safe to call at any time.
 */
static void
port_check(struct agent *a)
{
	struct pollfd pfd = { .fd = a->port.fd, .events = POLLIN };

	if (poll(&pfd, 1, 0) < 0)
		return;
	if (pfd.revents & (POLLERR | POLLNVAL)) {
		port_close(&a->port);
		return;
	}
	if (!(pfd.revents & POLLHUP))
		port_set_up(a);
	else if (a->port.is_sock)
		port_close(&a->port); /* a socket does not come back */
}

/* Open the port if it is closed. Logs each distinct failure once. */
static void
port_open(struct agent *a)
{
	struct port *p = &a->port;
	char path[PATH_MAX];
	const char *what;
	struct stat st;
	int fd, r;

	if (a->port_path != NULL) {
		what = a->port_path;
		if (stat(what, &st) == 0 && S_ISSOCK(st.st_mode)) {
			fd = unix_socket_connect(what, SOCK_STREAM, 1);
			p->is_sock = 1;
		} else {
			fd = open(what, PORT_OPEN_FLAGS);
			if (fd < 0)
				fd = -errno;
			p->is_sock = 0;
		}
	} else {
		r = find_vport(path, sizeof(path));
		what = path;
		if (r < 0) {
			what = RAMM_AGENT_PORT_NAME;
			fd = r;
		} else {
			fd = open(path, PORT_OPEN_FLAGS);
			if (fd < 0)
				fd = -errno;
		}
		p->is_sock = 0;
	}
	if (fd < 0) {
		if (fd != p->last_err)
			logmsg("cannot open port %s: %s%s; retrying each tick",
			    what, strerror(-fd), fd == -EBUSY ?
			    " (another agent has it)" : "");
		p->last_err = fd;
		return;
	}
	logmsg("opened port %s", what);
	p->last_err = 0;
	if (isatty(fd)) {
		struct termios t;

		/* A pty for tests: pass bytes through untouched. */
		if (tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			(void)tcsetattr(fd, TCSANOW, &t);
		}
	}
	p->fd = fd;
	p->state = PORT_HUP;
	port_reset_buffers(p);
	port_check(a);
}

/* Write out the pending tail. Returns 0 when it is all out, or -errno. */
static int
port_flush(struct agent *a)
{
	struct port *p = &a->port;
	ssize_t n;

	while (p->out_len > 0) {
		n = write(p->fd, p->out, p->out_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		memmove(p->out, p->out + n, p->out_len - (size_t)n);
		p->out_len -= (size_t)n;
	}
	return 0;
}

/* React to a write error @e (negative errno) that is not a plain EAGAIN. */
static void
port_write_failed(struct agent *a, int e)
{
	if (e == -EAGAIN || e == -EWOULDBLOCK || e == -EINTR)
		return;
	port_set_down(a, strerror(-e));
}

/*
 * port_send - send one whole line @line (@len bytes, with its '\n').
 * A partial write keeps the rest for port_flush(); while a tail is pending,
 * or the port is not up, or the write fails, the line is dropped.
 * Returns 0 if the line is sent (or its tail queued), or -errno.
 */
static int
port_send(struct agent *a, const char *line, size_t len)
{
	struct port *p = &a->port;
	ssize_t n;
	int r;

	if (p->state != PORT_UP)
		return -ENOTCONN;
	if (p->out_len > 0) {
		r = port_flush(a);
		if (r < 0) {
			port_write_failed(a, r);
			return r;
		}
	}
	do
		n = write(p->fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		port_write_failed(a, r);
		return r;
	}
	if ((size_t)n < len) {
		memcpy(p->out, line + n, len - (size_t)n);
		p->out_len = len - (size_t)n;
	}
	return 0;
}

/* Send and count; log only when sending starts or stops failing. */
static void
send_line(struct agent *a, const char *what, const char *line, size_t len)
{
	int r = port_send(a, line, len);

	if (r < 0) {
		a->dropped++;
		/* Drops while disconnected are expected; those are not. */
		if (!a->dropping && r != -ENOTCONN) {
			logmsg("%s dropped: %s; dropping quietly until the "
			    "port takes messages", what, strerror(-r));
			a->dropping = 1;
		}
		return;
	}
	if (a->dropping)
		logmsg("port takes messages again (%" PRIu64 " dropped so far)",
		    a->dropped);
	a->dropping = 0;
	a->sent++;
}

/* ---- outgoing messages --------------------------------------------------- */

static void
read_boot_id(struct agent *a)
{
	char buf[64];
	ssize_t n;
	int fd;

	a->boot_id[0] = '\0';
	fd = open(BOOT_ID, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strlen(buf) >= sizeof(a->boot_id) ||
	    strspn(buf, "0123456789abcdef-") != strlen(buf))
		return;
	strcpy(a->boot_id, buf);
}

static void
send_hello(struct agent *a)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line),
	    "{\"type\":\"" RAMM_MSG_HELLO "\",\"v\":%d,\"agent\":\"" AGENT_NAME
	    "\",\"version\":\"" AGENT_VERSION "\",\"mode\":\"%s"
	    "\",\"boot_id\":\"%s\"}\n", RAMM_PROTO_VERSION,
	    a->dev_fd >= 0 ? RAMM_MODE_KERNEL : RAMM_MODE_PROC, a->boot_id);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	send_line(a, "hello", line, (size_t)n);
	/* Either way the next connect sends a new one. */
	a->need_hello = 0;
}

/*
 * format_report - one report line (with '\n') for sample @s into @buf.
 * Returns its length, or -EMSGSIZE if it does not fit (it always does:
 * 64 steps of two 10-digit numbers are well below RAMM_MAX_LINE).
 */
static int
format_report(const struct agent *a, const struct proc_sample *s, int urgent,
    char *buf, size_t size)
{
	struct ramm_bid_step steps[RAMM_MAX_BID_STEPS];
	size_t off;
	int n, ns = 0;

	if (a->have_welcome) {
		struct proc_sample c = *s;

		/*
		 * Unplugging migrates pages, and the stall shows in PSI for
		 * its 10 s average: that is the broker's doing, not a need
		 * for memory, and bidding on it would buy back what was just
		 * given up. Low MemAvailable still counts.
		 */
		if (a->last_evict_ms &&
		    now_ms() - a->last_evict_ms < AGENT_EVICT_PSI_MS)
			c.have_psi = 0;
		ns = bid_model_compute(&c, a->unit_bytes, a->floor_bytes,
		    a->cap_bytes, steps, RAMM_MAX_BID_STEPS);
		if (ns < 0)
			ns = 0;
	}
	n = snprintf(buf, size,
	    "{\"type\":\"" RAMM_MSG_REPORT "\",\"v\":%d,\"seq\":%" PRIu64
	    ",\"urgent\":%s,\"mem_total_kib\":%" PRIu64
	    ",\"mem_free_kib\":%" PRIu64 ",\"mem_available_kib\":%" PRIu64
	    ",\"psi_some_avg10\":%.2f,\"psi_full_avg10\":%.2f"
	    ",\"refault_anon\":%" PRIu64 ",\"refault_file\":%" PRIu64
	    ",\"pgscan\":%" PRIu64 ",\"unit_bytes\":%" PRIu64 ",\"bid\":[",
	    RAMM_PROTO_VERSION, a->seq, urgent ? "true" : "false",
	    s->mem_total_kib, s->mem_free_kib, s->mem_available_kib,
	    s->psi_some_avg10, s->psi_full_avg10, s->refault_anon,
	    s->refault_file, s->pgscan,
	    a->have_welcome ? a->unit_bytes : 0);
	if (n < 0 || (size_t)n >= size)
		return -EMSGSIZE;
	off = (size_t)n;
	for (int i = 0; i < ns; i++) {
		n = snprintf(buf + off, size - off,
		    "%s[%" PRIu32 ",%" PRIu32 "]", i ? "," : "", steps[i].units,
		    steps[i].price);
		if (n < 0 || (size_t)n >= size - off)
			return -EMSGSIZE;
		off += (size_t)n;
	}
	n = snprintf(buf + off, size - off, "]}\n");
	if (n < 0 || (size_t)n >= size - off)
		return -EMSGSIZE;
	return (int)(off + (size_t)n);
}

/* Sample, build the next report and write it to @out_fd or the port. */
static int
make_report(struct agent *a, int urgent, char *line, size_t size)
{
	struct proc_sample s;
	int r;

	r = proc_sample_read(NULL, &s);
	if (r < 0) {
		if (r != a->sample_err)
			logmsg("cannot read /proc/meminfo: %s", strerror(-r));
		a->sample_err = r;
		return r;
	}
	a->sample_err = 0;
	s.mem_reserved_kib = a->reserved_kib;
	s.wss_rise_kib = bid_rise_update(&a->rise, now_ms(),
	    s.mem_total_kib - s.mem_available_kib);
	a->seq++;
	return format_report(a, &s, urgent, line, size);
}

static void
send_report(struct agent *a, int urgent)
{
	char line[RAMM_MAX_LINE];
	int n;

	if (a->need_hello && a->port.state == PORT_UP)
		send_hello(a);
	a->last_report_ms = now_ms();
	n = make_report(a, urgent, line, sizeof(line));
	if (n < 0)
		return;
	send_line(a, urgent ? "urgent report" : "report", line, (size_t)n);
}

/* ---- /dev/ramm ------------------------------------------------------------ */

/*
 * dev_open_path - open the device at @path: a character device, or for
 * tests a file of records (read to its end, which counts as the device
 * failing) or a unix SOCK_SEQPACKET socket, which keeps read() and write()
 * one record or message each as the device does. (A fifo would hand the
 * agent its own messages back as records.)
 * Returns the fd, or -errno.
 */
static int
dev_open_path(const char *path)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		return unix_socket_connect(path, SOCK_SEQPACKET, 1);
	fd = open(path, DEV_OPEN_FLAGS);
	return fd < 0 ? -errno : fd;
}

/*
 * Write one message to the device. Returns 0, or -errno (-EAGAIN in proc
 * mode); errors are logged (throttled), no more.
 */
static int
dev_send(struct agent *a, uint32_t type, uint64_t x, uint64_t y, uint64_t z,
    uint64_t w)
{
	const struct ramm_dev_msg m = {
		.version = RAMM_DEV_VERSION,
		.type = type,
		.a = x, .b = y, .c = z, .d = w,
	};
	ssize_t n;
	int err;

	if (a->dev_fd < 0)
		return -EAGAIN;
	do
		n = write(a->dev_fd, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(m)) {
		a->dev_writes++;
		return 0;
	}
	err = n < 0 ? -errno : -EIO;
	a->dev_write_errors++;
	tlog(&a->write_log, "writing message type %" PRIu32 " to %s: %s", type,
	    a->dev_path, strerror(-err));
	return err;
}

/* The welcome's terms, and the boot memory the module derives its boot
 * reserve from (a module that predates it refuses that one message). */
static void
dev_send_welcome(struct agent *a)
{
	(void)dev_send(a, RAMM_DEV_MSG_WELCOME, a->unit_bytes, a->floor_bytes,
	    a->cap_bytes, a->size_bytes);
	if (a->boot_bytes)
		(void)dev_send(a, RAMM_DEV_MSG_BOOT, a->boot_bytes, 0, 0, 0);
}

/* Proc mode to kernel mode on the open device @fd. */
static void
dev_enter(struct agent *a, int fd)
{
	int64_t now = now_ms();

	a->dev_fd = fd;
	a->dev_open_err = 0;
	a->dev_good = 0;
	a->dev_bad_run = 0;
	a->dev_stalled = 0;
	a->dev_good_ms = now;
	a->dev_read_ms = now - DEV_MIN_GAP_MS;
	a->urgent_pending = 0;
	a->report_now = 0;
	a->need_hello = 1;
	/* This device has been written no notice. */
	a->have_evict_note = 0;
	logmsg("kernel mode: reports come from %s", a->dev_path);
	/* A module loaded after the last welcome learns the terms now;
	 * the broker's answer to the hello refreshes them. */
	if (a->have_welcome)
		dev_send_welcome(a);
}

/* Try to open the device; enter kernel mode if that works. */
static void
dev_try_open(struct agent *a)
{
	int fd;

	if (a->dev_path == NULL || a->dev_fd >= 0)
		return;
	fd = dev_open_path(a->dev_path);
	if (fd < 0) {
		if (fd != a->dev_open_err)
			logmsg("cannot open %s: %s; proc mode, trying again "
			    "every %d s", a->dev_path, strerror(-fd),
			    a->dev_backoff_ms / 1000);
		a->dev_open_err = fd;
		a->dev_retry_ms = now_ms() + a->dev_backoff_ms;
		return;
	}
	dev_enter(a, fd);
}

/*
 * dev_fail - the device is unusable (@why): close it, go back to proc mode
 * with a new hello and a report soon, and try again later: after
 * DEV_RETRY_MS if the device gave valid records, else after twice the last
 * wait (so a device that always fails costs a log line and two hellos per
 * DEV_RETRY_MAX_MS at most).
 */
static void
dev_fail(struct agent *a, const char *why)
{
	if (a->dev_good > 0)
		a->dev_backoff_ms = DEV_RETRY_MS;
	else if (a->dev_backoff_ms < DEV_RETRY_MAX_MS)
		a->dev_backoff_ms *= 2;
	logmsg("%s: %s (after %" PRIu64 " good records); proc mode, trying "
	    "again in %d s", a->dev_path, why, a->dev_good,
	    a->dev_backoff_ms / 1000);
	close(a->dev_fd);
	a->dev_fd = -1;
	a->dev_open_err = 0;
	a->dev_retry_ms = now_ms() + a->dev_backoff_ms;
	/* Keep the report sequence going up where it can. */
	if (a->dev_seq > a->seq)
		a->seq = a->dev_seq;
	a->was_low = 0;
	a->need_hello = 1;
	a->report_now = 1;
}

/* Send the report for the valid record @rec. */
static void
send_dev_report(struct agent *a, const struct ramm_dev_record *rec)
{
	char line[RAMM_MAX_LINE];
	struct proc_sample s;
	int n;

	_Static_assert(DEV_REPORT_MAX <= RAMM_MAX_LINE,
	    "a record's report fits in a line");
	/* PSI and pgscan; all zero if /proc cannot be read. */
	(void)proc_sample_read(NULL, &s);
	n = dev_record_format(rec, &s,
	    a->have_evict_note ? &a->evict_note : NULL, line, sizeof(line));
	if (n < 0) {
		a->bad_records++;
		tlog(&a->rec_log, "cannot format record %" PRIu64 ": %s",
		    rec->seq, strerror(-n));
		return;
	}
	if (a->need_hello && a->port.state == PORT_UP)
		send_hello(a);
	a->last_report_ms = now_ms();
	a->dev_seq = rec->seq;
	send_line(a, (rec->flags & RAMM_REC_URGENT) ? "urgent report" :
	    "report", line, (size_t)n);
}

/*
 * dev_read - read one record after poll() gave @revents, and report it.
 * May leave kernel mode (dev_fail()).
 */
static void
dev_read(struct agent *a, short revents)
{
	struct ramm_dev_record rec;
	const char *why = NULL;
	ssize_t n;
	int r;

	if (revents & POLLNVAL) {
		dev_fail(a, "invalid descriptor");
		return;
	}
	a->dev_read_ms = now_ms();
	do
		n = read(a->dev_fd, &rec, sizeof(rec));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			dev_fail(a, strerror(errno));
		else if (revents & (POLLERR | POLLHUP))
			dev_fail(a, (revents & POLLERR) ? "poll error" :
			    "hangup");
		return;
	}
	if (n == 0) {
		dev_fail(a, "end of file");
		return;
	}
	r = dev_record_check(&rec, (size_t)n, &why);
	if (r == -EPROTO) {
		/* Another ABI: every record would be the same. */
		dev_fail(a, why);
		return;
	}
	if (r < 0) {
		a->bad_records++;
		tlog(&a->rec_log, "dropped a record from %s: %s", a->dev_path,
		    why);
		if (++a->dev_bad_run >= DEV_MAX_BAD)
			dev_fail(a, "too many bad records in a row");
		return;
	}
	a->dev_bad_run = 0;
	a->dev_good++;
	a->records++;
	a->dev_good_ms = a->dev_read_ms;
	if (a->dev_stalled) {
		logmsg("records from %s again", a->dev_path);
		a->dev_stalled = 0;
	}
	send_dev_report(a, &rec);
}

/* Kernel mode: note once when the device has stopped giving records. */
static void
dev_stall_check(struct agent *a, int64_t now)
{
	if (a->dev_stalled || now - a->dev_good_ms < DEV_STALL_MS)
		return;
	logmsg("no valid record from %s for %d s; no reports until one comes",
	    a->dev_path, DEV_STALL_MS / 1000);
	a->dev_stalled = 1;
}

/* ---- incoming messages --------------------------------------------------- */

static void
handle_welcome(struct agent *a, const struct broker_welcome *w)
{
	uint64_t unit = w->unit_bytes, floor_b = w->floor_bytes;
	uint64_t cap = w->cap_bytes, size = w->size_bytes;
	struct proc_sample now;

	/* The gap between the host's view of our size and MemTotal does not
	 * change as virtio-mem plugs memory; each welcome (the broker sends
	 * one after every resize) is another reading of it. */
	if (proc_meminfo_read(NULL, &now) == 0 &&
	    size / 1024 > now.mem_total_kib) {
		uint64_t gap = size / 1024 - now.mem_total_kib;

		/* QEMU counts plugged blocks a moment before the kernel has
		 * onlined them, so a reading mostly overstates the gap, and
		 * the smallest one seen is the truest. Not always: a resize
		 * sent after the welcome may be onlined before it is read.
		 * Kernel mode derives the gap from boot_bytes instead. */
		if (!a->reserved_kib || gap < a->reserved_kib)
			a->reserved_kib = gap;
	}
	a->size_bytes = size;
	/* Page-aligned or not told: the module takes nothing else. */
	a->boot_bytes = w->boot_bytes & ~(uint64_t)4095;
	if (a->have_welcome && unit == a->unit_bytes &&
	    floor_b == a->floor_bytes && cap == a->cap_bytes) {
		/* Same terms, but the kernel wants each new size. */
		dev_send_welcome(a);
		return;
	}
	logmsg("welcome: unit %" PRIu64 " floor %" PRIu64 " MiB cap %" PRIu64
	    " MiB", unit, floor_b >> 20, cap >> 20);
	a->have_welcome = 1;
	a->unit_bytes = unit;
	a->floor_bytes = floor_b;
	a->cap_bytes = cap;
	dev_send_welcome(a);
	/* Bid in the new terms at once rather than at the next tick; in
	 * kernel mode the module's next record does that. */
	if (a->dev_fd < 0)
		a->report_now = 1;
}

static void
handle_grant(struct agent *a, const struct broker_grant *g)
{
	if (log_allow(a))
		logmsg("grant: target %" PRIu64 " MiB at price %" PRIu32,
		    g->target_bytes >> 20, g->price);
	(void)dev_send(a, RAMM_DEV_MSG_GRANT, g->target_bytes, g->price, 0, 0);
}

static void
handle_evict(struct agent *a, const struct broker_evict *e)
{
	struct dev_evict_note note = { .id = e->id, .write_ns = now_ns() };

	if (log_allow(a))
		logmsg("evict: %" PRIu32 " units within %" PRIu32 " ms (id %"
		    PRIu64 ")", e->units, e->deadline_ms, e->id);
	/* An evict of 0 units calls the unplug off: pressure from then on is
	 * demand again, not the unplug's page migration. */
	a->last_evict_ms = e->units ? now_ms() : 0;
	if (dev_send(a, RAMM_DEV_MSG_EVICT, e->units, e->deadline_ms, e->id,
	    0) == 0) {
		/* Records sampled before this write say nothing of it. */
		a->evict_note = note;
		a->have_evict_note = 1;
	}
}

static void
handle_error(struct agent *a, const struct broker_error *e)
{
	char buf[MSG_MAX_REASON];

	if (log_allow(a))
		logmsg("broker error: %s", printable(e->reason, buf,
		    sizeof(buf)));
}

/* Parse (msg_parse_broker()) and act on one line from the broker (@len
 * bytes, no newline). */
static void
handle_line(struct agent *a, const char *line, size_t len)
{
	struct broker_msg m;
	const char *why;
	int r;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	r = msg_parse_broker(line, len, &m, &why);
	if (r == -ENOMEM)
		return;
	if (r < 0) {
		a->bad_lines++;
		if (log_allow(a))
			logmsg("ignoring message from broker: %s", why);
		return;
	}
	switch (m.type) {
	case BROKER_MSG_WELCOME:
		handle_welcome(a, &m.welcome);
		break;
	case BROKER_MSG_GRANT:
		handle_grant(a, &m.grant);
		break;
	case BROKER_MSG_EVICT:
		handle_evict(a, &m.evict);
		break;
	case BROKER_MSG_ERROR:
		handle_error(a, &m.error);
		break;
	}
}

/* linebuf_feed() callback: one line from the broker, or NULL for an
 * over-long one. Stops the feed once the port is no longer up. */
static int
port_line(void *ctx, char *line, size_t len)
{
	struct agent *a = ctx;

	if (line == NULL) {
		a->oversize++;
		if (log_allow(a))
			logmsg("discarded an over-long line from the broker");
	} else {
		handle_line(a, line, len);
	}
	return a->port.state != PORT_UP;
}

/* Read what the port has, up to READ_BUDGET bytes. */
static void
port_read(struct agent *a, short revents)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	if (revents & (POLLERR | POLLNVAL)) {
		if (a->port.state == PORT_UP)
			logmsg("port error; reopening");
		port_close(&a->port);
		return;
	}
	while (total < READ_BUDGET && a->port.state == PORT_UP) {
		n = read(a->port.fd, buf, sizeof(buf));
		if (n > 0) {
			linebuf_feed(&a->port.in, buf, (size_t)n, port_line, a);
			total += (size_t)n;
			continue;
		}
		if (n == 0) {
			port_set_down(a, "end of file");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* Hung up but nothing to read: stop polling it. */
			if (revents & POLLHUP)
				port_set_down(a, "hangup");
			return;
		}
		port_set_down(a, strerror(errno));
		return;
	}
}

/* ---- pressure ------------------------------------------------------------ */

/* Arm a PSI memory trigger. Returns its fd, or -errno if unavailable. */
static int
psi_trigger_open(void)
{
	int fd, e = ENOENT;

	for (size_t i = 0; i < sizeof(psi_triggers) / sizeof(psi_triggers[0]);
	    i++) {
		const char *t = psi_triggers[i];

		fd = open(PSI_MEMORY, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		/* The kernel wants the terminating NUL too. */
		if (write(fd, t, strlen(t) + 1) >= 0)
			return fd;
		e = errno;
		close(fd);
	}
	return -e;
}

/* Flag an urgent report when MemAvailable drops below 8 % of MemTotal. */
static void
low_check(struct agent *a)
{
	struct proc_sample s;
	int low;

	if (proc_meminfo_read(NULL, &s) < 0)
		return;
	low = s.mem_available_kib * 100 < s.mem_total_kib * RAMM_AVAIL_SHORT_PCT;
	if (low && !a->was_low)
		a->urgent_pending = 1;
	a->was_low = low;
}

/* ---- main ---------------------------------------------------------------- */

static int
write_pidfile(const char *path)
{
	char buf[32];
	int fd, n, e = 0;
	ssize_t w;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	w = write(fd, buf, (size_t)n);
	if (w < 0)
		e = errno;
	else if (w != n)
		e = EIO;
	if (close(fd) < 0 && e == 0)
		e = errno;
	return -e;
}

static int
setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int64_t
min64(int64_t x, int64_t y)
{
	return x < y ? x : y;
}

static int
run(struct agent *a)
{
	int64_t now, next_tick, next_check;

	a->psi_fd = psi_trigger_open();
	logmsg("version " AGENT_VERSION);
	dev_try_open(a);
	if (a->dev_fd < 0)
		logmsg("proc mode: report every %d ms, urgent reports from "
		    "%sMemAvailable checks", a->interval_ms,
		    a->psi_fd >= 0 ? "a PSI trigger and " : "");
	a->need_hello = 1;
	now = now_ms();
	next_tick = now;
	next_check = now;
	a->last_urgent_ms = now - URGENT_MIN_GAP_MS;

	for (;;) {
		struct pollfd pfd[4];
		int64_t deadline;
		int np = 0, i_port = -1, i_psi = -1, i_dev = -1, r;
		int kernel;

		now = now_ms();
		if (a->dev_fd < 0 && a->dev_path != NULL &&
		    now >= a->dev_retry_ms)
			dev_try_open(a);
		kernel = a->dev_fd >= 0;
		if (a->report_now &&
		    now - a->last_report_ms >= URGENT_MIN_GAP_MS) {
			next_tick = now;
			a->report_now = 0;
		}
		if (now >= next_tick) {
			if (a->port.state == PORT_CLOSED)
				port_open(a);
			else if (a->port.state == PORT_HUP)
				port_check(a);
			/* In kernel mode records drive the reports. */
			if (kernel)
				dev_stall_check(a, now);
			else
				send_report(a, 0);
			next_tick += a->interval_ms;
			if (next_tick <= now)
				next_tick = now + a->interval_ms;
		}
		if (a->need_hello && a->port.state == PORT_UP)
			send_hello(a);
		if (!kernel && now >= next_check) {
			low_check(a);
			next_check = now + LOW_CHECK_MS;
		}
		if (!kernel && a->urgent_pending &&
		    now - a->last_urgent_ms >= URGENT_MIN_GAP_MS) {
			send_report(a, 1);
			a->urgent_pending = 0;
			a->last_urgent_ms = now;
		}

		pfd[np] = (struct pollfd){ .fd = a->sig_fd, .events = POLLIN };
		np++;
		if (a->port.state == PORT_UP) {
			i_port = np;
			pfd[np] = (struct pollfd){ .fd = a->port.fd,
			    .events = a->port.out_len ? POLLIN | POLLOUT :
			    POLLIN };
			np++;
		}
		/* Proc mode only: in kernel mode the module sees pressure,
		 * and a trigger that fires meanwhile just makes one early
		 * report after a fallback. */
		if (!kernel && a->psi_fd >= 0) {
			i_psi = np;
			pfd[np] = (struct pollfd){ .fd = a->psi_fd,
			    .events = POLLPRI };
			np++;
		}
		/* A record waits in the device until read (newer ones replace
		 * it), so leaving the device out of poll() for
		 * DEV_MIN_GAP_MS after a read limits the report rate. */
		if (kernel && now - a->dev_read_ms >= DEV_MIN_GAP_MS) {
			i_dev = np;
			pfd[np] = (struct pollfd){ .fd = a->dev_fd,
			    .events = POLLIN | POLLPRI };
			np++;
		}
		deadline = min64(next_tick, kernel ? INT64_MAX : next_check);
		if (kernel && i_dev < 0)
			deadline = min64(deadline,
			    a->dev_read_ms + DEV_MIN_GAP_MS);
		else if (a->dev_path != NULL)
			deadline = min64(deadline, a->dev_retry_ms);
		if (!kernel && a->urgent_pending)
			deadline = min64(deadline,
			    a->last_urgent_ms + URGENT_MIN_GAP_MS);
		if (a->report_now)
			deadline = min64(deadline,
			    a->last_report_ms + URGENT_MIN_GAP_MS);
		r = poll(pfd, (nfds_t)np, (int)(deadline > now ?
		    min64(deadline - now, INT_MAX) : 0));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			logmsg("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(a->sig_fd, &si, sizeof(si)) == sizeof(si)) {
				logmsg("signal %u: exiting", si.ssi_signo);
				return 0;
			}
		}
		if (i_psi >= 0 && pfd[i_psi].revents) {
			if (pfd[i_psi].revents & (POLLERR | POLLNVAL)) {
				/* Trigger gone: MemAvailable checks remain. */
				close(a->psi_fd);
				a->psi_fd = -1;
			} else if (pfd[i_psi].revents & POLLPRI) {
				a->urgent_pending = 1;
			}
		}
		if (i_dev >= 0 && pfd[i_dev].revents)
			dev_read(a, pfd[i_dev].revents);
		if (i_port >= 0 && pfd[i_port].revents) {
			short rev = pfd[i_port].revents;

			if ((rev & POLLOUT) && a->port.out_len > 0) {
				r = port_flush(a);
				if (r < 0)
					port_write_failed(a, r);
			}
			if (a->port.state == PORT_UP &&
			    (rev & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
				port_read(a, rev);
		}
	}
}

/*
 * once_record - --once in kernel mode: wait up to DEV_ONCE_WAIT_MS for a
 * valid record and format its report into @line.
 * Returns the line's length, or -errno (then the caller falls back to /proc).
 */
static int
once_record(struct agent *a, char *line, size_t size)
{
	int64_t end = now_ms() + DEV_ONCE_WAIT_MS, now;
	struct ramm_dev_record rec;
	struct proc_sample s;
	const char *why;
	ssize_t n;
	int r;

	for (;;) {
		struct pollfd pfd = { .fd = a->dev_fd,
		    .events = POLLIN | POLLPRI };

		now = now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(end - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		n = read(a->dev_fd, &rec, sizeof(rec));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		r = dev_record_check(&rec, (size_t)n, &why);
		if (r < 0) {
			logmsg("%s: %s", a->dev_path, why);
			if (r == -EPROTO)
				return r;
			continue;
		}
		(void)proc_sample_read(NULL, &s);
		return dev_record_format(&rec, &s, NULL, line, size);
	}
}

static int
run_once(struct agent *a)
{
	char line[RAMM_MAX_LINE];
	int n = -ENODEV;

	if (a->dev_path != NULL) {
		a->dev_fd = dev_open_path(a->dev_path);
		if (a->dev_fd >= 0) {
			n = once_record(a, line, sizeof(line));
			if (n < 0)
				logmsg("no record from %s (%s); a /proc report "
				    "instead", a->dev_path, strerror(-n));
			close(a->dev_fd);
			a->dev_fd = -1;
		}
	}
	if (n < 0)
		n = make_report(a, 0, line, sizeof(line));
	if (n < 0)
		return 1;
	if (fwrite(line, 1, (size_t)n, stdout) != (size_t)n ||
	    fflush(stdout) != 0) {
		logmsg("writing stdout: %s", strerror(errno));
		return 1;
	}
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " AGENT_NAME " [--port PATH] [--dev PATH | --no-dev] "
	    "[--interval-ms N]\n"
	    "                  [--pidfile PATH] [--once]\n"
	    "  --port PATH       talk on PATH (device, fifo, pty or unix "
	    "socket)\n"
	    "                    instead of the virtio port "
	    RAMM_AGENT_PORT_NAME "\n"
	    "  --dev PATH        kernel mode from PATH instead of " DEV_PATH
	    " (a unix\n"
	    "                    SOCK_SEQPACKET socket stands in for it in "
	    "tests)\n"
	    "  --no-dev          proc mode only: never open " DEV_PATH "\n"
	    "  --interval-ms N   proc mode: report every N ms (100..60000, "
	    "default 1000)\n"
	    "  --pidfile PATH    write the pid to PATH, remove it at exit\n"
	    "  --once            print one report line to stdout and exit "
	    "(from the next\n"
	    "                    record in kernel mode, waiting up to %d s)\n",
	    DEV_ONCE_WAIT_MS / 1000);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "once", no_argument, NULL, 'o' },
		{ "dev", required_argument, NULL, 'd' },
		{ "no-dev", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = {
		.interval_ms = 1000,
		.port = { .fd = -1 },
		.sig_fd = -1,
		.psi_fd = -1,
		.dev_path = DEV_PATH,
		.dev_fd = -1,
		.dev_backoff_ms = DEV_RETRY_MS,
	};
	const char *pidfile = NULL;
	int once = 0, no_dev = 0, c, r;
	char *end;
	long v;

	if (linebuf_init(&a.port.in, RAMM_MAX_LINE) < 0) {
		logmsg("out of memory");
		return 1;
	}

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			a.port_path = optarg;
			break;
		case 'i':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 100 ||
			    v > 60000) {
				logmsg("--interval-ms: want 100..60000");
				return 2;
			}
			a.interval_ms = (int)v;
			break;
		case 'P':
			pidfile = optarg;
			break;
		case 'o':
			once = 1;
			break;
		case 'd':
			a.dev_path = optarg;
			break;
		case 'n':
			no_dev = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (no_dev)
		a.dev_path = NULL;
	if (once)
		return run_once(&a);

	read_boot_id(&a);
	a.sig_fd = setup_signals();
	if (a.sig_fd < 0) {
		logmsg("signals: %s", strerror(errno));
		return 1;
	}
	if (pidfile != NULL) {
		r = write_pidfile(pidfile);
		if (r < 0) {
			logmsg("pidfile %s: %s", pidfile, strerror(-r));
			return 1;
		}
	}
	r = run(&a);
	logmsg("sent %" PRIu64 ", dropped %" PRIu64 ", bad lines %" PRIu64
	    ", over-long lines %" PRIu64, a.sent, a.dropped, a.bad_lines,
	    a.oversize);
	if (a.records || a.bad_records || a.dev_writes || a.dev_write_errors)
		logmsg("records %" PRIu64 ", bad records %" PRIu64
		    ", messages to the device %" PRIu64 ", failed %" PRIu64,
		    a.records, a.bad_records, a.dev_writes,
		    a.dev_write_errors);
	port_close(&a.port);
	if (a.dev_fd >= 0)
		close(a.dev_fd);
	if (a.psi_fd >= 0)
		close(a.psi_fd);
	close(a.sig_fd);
	if (pidfile != NULL)
		unlink(pidfile);
	return r;
}
