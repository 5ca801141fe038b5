/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "fdwatch.h"
#include "agent_chan.h"
#include "guest.h"
#include "linebuf.h"
#include "log.h"
#include "rammd.h"
#include "unix_socket.h"

#define AGENT_CHAN_RETRY_MS 1000
/* Bytes read per wakeup: a flooding guest cannot starve the others. */
#define AGENT_CHAN_READ_CHUNK 16384

/* Kinds of misbehaviour, each logged at most once a second on its own. */
enum agent_complaint {
	COMPLAINT_GARBAGE,
	COMPLAINT_OVERSIZE,
	COMPLAINT_BAD_FIELD,
	COMPLAINT_UNKNOWN,
	COMPLAINT_FLOOD,
	COMPLAINT_KINDS,
};

static const char *const agent_complaint_what[COMPLAINT_KINDS] = {
	[COMPLAINT_GARBAGE] = "garbage",
	[COMPLAINT_OVERSIZE] = "an over-long line",
	[COMPLAINT_BAD_FIELD] = "a bad message",
	[COMPLAINT_UNKNOWN] = "an unknown message",
	[COMPLAINT_FLOOD] = "a flood",
};

struct agent_chan {
	struct guest *g;          /* owner */
	char path[108];           /* socket path */
	int fd;                   /* -1 while disconnected */
	guint watch;              /* readable watch on fd */
	guint retry;              /* reconnect timer */
	struct linebuf lines;     /* incoming lines, RAMM_MAX_LINE each */
	int64_t window_us;        /* start of the current rate window */
	unsigned int window_lines; /* lines seen in the current window */
	/* per kind: last log line / error reply, and how many since */
	int64_t last_complaint_us[COMPLAINT_KINDS];
	uint64_t suppressed[COMPLAINT_KINDS];
};

static void agent_chan_schedule_retry(struct agent_chan *c);

int agent_chan_is_up(const struct agent_chan *c)
{
	return c && c->fd >= 0;
}

int agent_chan_send(struct agent_chan *c, const char *line, size_t len)
{
	ssize_t n;

	if (!agent_chan_is_up(c))
		return -ENOTCONN;
	n = send(c->fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	/* A partial write would corrupt the stream; messages are tiny, so a
	 * socket that cannot take one whole is as good as full. */
	return (size_t)n == len ? 0 : -EAGAIN;
}

/*
 * One log line and one error reply per second per guest and kind at most,
 * however fast a guest misbehaves; the counters carry the exact numbers.
 */
static void agent_chan_complain(struct agent_chan *c,
				enum agent_complaint kind, const char *reason)
{
	int64_t now = rammd_now_us();
	char buf[256];
	int n;

	if (c->last_complaint_us[kind] &&
	    now - c->last_complaint_us[kind] < G_USEC_PER_SEC) {
		c->suppressed[kind]++;
		return;
	}
	log_warn("guest %s: agent sent %s: %s (%llu more suppressed)",
		 c->g->cfg.name, agent_complaint_what[kind], reason,
		 (unsigned long long)c->suppressed[kind]);
	c->suppressed[kind] = 0;
	c->last_complaint_us[kind] = now;
	n = msg_format_error(buf, sizeof(buf), reason);
	if (n > 0)
		agent_chan_send(c, buf, (size_t)n);
}

static int agent_chan_rate_ok(struct agent_chan *c)
{
	int64_t now = rammd_now_us();

	if (now - c->window_us >= G_USEC_PER_SEC) {
		c->window_us = now;
		c->window_lines = 0;
	}
	return ++c->window_lines <= AGENT_CHAN_MAX_LINES_PER_SEC;
}

static int agent_chan_line(void *ctx, char *line, size_t len)
{
	struct agent_chan *c = ctx;
	struct guest_counters *cnt = &c->g->counters;
	struct agent_msg msg;
	const char *reason;
	int ret;

	if (!line) {
		cnt->oversize++;
		agent_chan_complain(c, COMPLAINT_OVERSIZE, "line too long");
		return 0;
	}
	if (!agent_chan_rate_ok(c)) {
		cnt->rate_limited++;
		agent_chan_complain(c, COMPLAINT_FLOOD, "more than 20 lines per second");
		return 0;
	}
	ret = msg_parse_agent(line, len, &msg, &reason);
	switch (ret) {
	case 0:
		guest_agent_message(c->g, &msg);
		return 0;
	case -EBADMSG:
		cnt->bad_json++;
		agent_chan_complain(c, COMPLAINT_GARBAGE, reason);
		return 0;
	case -ENOMSG:
		cnt->unknown_type++;
		agent_chan_complain(c, COMPLAINT_UNKNOWN, reason);
		return 0;
	default:
		cnt->bad_field++;
		agent_chan_complain(c, COMPLAINT_BAD_FIELD, reason);
		return 0;
	}
}

static void agent_chan_close(struct agent_chan *c)
{
	if (c->watch)
		fdwatch_remove(c->watch);
	c->watch = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	linebuf_reset(&c->lines);
}

static gboolean agent_chan_on_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct agent_chan *c = data;
	char buf[AGENT_CHAN_READ_CHUNK];
	ssize_t n;

	(void)cond;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		log_info("guest %s: agent channel closed", c->g->cfg.name);
		c->watch = 0;
		agent_chan_close(c);
		agent_chan_schedule_retry(c);
		return G_SOURCE_REMOVE;
	}
	linebuf_feed(&c->lines, buf, (size_t)n, agent_chan_line, c);
	return G_SOURCE_CONTINUE;
}

static int agent_chan_connect(struct agent_chan *c)
{
	int fd = unix_socket_connect(c->path, SOCK_STREAM, 1);

	if (fd < 0)
		return fd;
	c->fd = fd;
	c->watch = fdwatch_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				 agent_chan_on_readable, c);
	log_info("guest %s: agent channel connected (%s)", c->g->cfg.name,
		 c->path);
	guest_agent_connected(c->g);
	return 0;
}

static gboolean agent_chan_on_retry(gpointer data)
{
	struct agent_chan *c = data;

	if (agent_chan_connect(c) == 0) {
		c->retry = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static void agent_chan_schedule_retry(struct agent_chan *c)
{
	if (!c->retry)
		c->retry = g_timeout_add(AGENT_CHAN_RETRY_MS, agent_chan_on_retry, c);
}

struct agent_chan *agent_chan_new(struct guest *g, const char *path)
{
	struct agent_chan *c = g_try_new0(struct agent_chan, 1);

	if (!c)
		return NULL;
	if (strlen(path) >= sizeof(c->path) ||
	    linebuf_init(&c->lines, RAMM_MAX_LINE)) {
		g_free(c);
		return NULL;
	}
	strcpy(c->path, path);
	c->g = g;
	c->fd = -1;
	if (agent_chan_connect(c) < 0)
		agent_chan_schedule_retry(c);
	return c;
}

void agent_chan_free(struct agent_chan *c)
{
	if (!c)
		return;
	agent_chan_close(c);
	if (c->retry)
		g_source_remove(c->retry);
	linebuf_free(&c->lines);
	g_free(c);
}
