/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fdwatch.h"

/* Events handed out per wakeup; more ready fds wait for the next. */
#define FDWATCH_BATCH 128

struct fdwatch {
	guint id;
	int fd;
	GUnixFDSourceFunc fn;
	gpointer data;
};

/* The one epoll instance and its GLib source; -1 / 0 until the first
 * watch. @watches maps id -> struct fdwatch (owned); @by_fd maps an fd to
 * the watch that registered it with epoll, so that removing a stale watch
 * (its fd closed and reused) never unregisters the new one. */
static int fdwatch_epfd = -1;
static GHashTable *fdwatch_by_id;
static GHashTable *fdwatch_by_fd;
static guint fdwatch_next_id;

static GIOCondition fdwatch_cond(uint32_t events)
{
	GIOCondition c = 0;

	if (events & EPOLLIN)
		c |= G_IO_IN;
	if (events & EPOLLOUT)
		c |= G_IO_OUT;
	if (events & EPOLLHUP)
		c |= G_IO_HUP;
	if (events & EPOLLERR)
		c |= G_IO_ERR;
	return c;
}

static gboolean fdwatch_dispatch(gint epfd, GIOCondition cond, gpointer unused)
{
	struct epoll_event ev[FDWATCH_BATCH];
	int n = epoll_wait(epfd, ev, FDWATCH_BATCH, 0);

	(void)cond;
	(void)unused;
	for (int i = 0; i < n; i++) {
		guint id = (guint)ev[i].data.u64;
		struct fdwatch *w = g_hash_table_lookup(fdwatch_by_id, GUINT_TO_POINTER(id));

		/* Removed by an earlier callback of this batch. */
		if (!w)
			continue;
		if (!w->fn(w->fd, fdwatch_cond(ev[i].events), w->data))
			fdwatch_remove(id);
	}
	return G_SOURCE_CONTINUE;
}

static int fdwatch_init(void)
{
	if (fdwatch_epfd >= 0)
		return 0;
	fdwatch_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (fdwatch_epfd < 0)
		return -1;
	fdwatch_by_id = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	fdwatch_by_fd = g_hash_table_new(NULL, NULL);
	g_unix_fd_add(fdwatch_epfd, G_IO_IN, fdwatch_dispatch, NULL);
	return 0;
}

guint fdwatch_add(int fd, GIOCondition cond, GUnixFDSourceFunc fn, gpointer data)
{
	struct epoll_event ev = { 0 };
	struct fdwatch *w;

	if (fdwatch_init())
		return 0;
	do
		fdwatch_next_id++;
	while (!fdwatch_next_id ||
	       g_hash_table_contains(fdwatch_by_id, GUINT_TO_POINTER(fdwatch_next_id)));
	if (cond & G_IO_IN)
		ev.events |= EPOLLIN;
	if (cond & G_IO_OUT)
		ev.events |= EPOLLOUT;
	ev.data.u64 = fdwatch_next_id;
	/* A watch whose fd was closed left epoll with the fd; one still open
	 * under another watch is taken over, as the newest owner. */
	if (epoll_ctl(fdwatch_epfd, EPOLL_CTL_ADD, fd, &ev) &&
	    (errno != EEXIST || epoll_ctl(fdwatch_epfd, EPOLL_CTL_MOD, fd, &ev)))
		return 0;
	w = g_new(struct fdwatch, 1);
	*w = (struct fdwatch){ .id = fdwatch_next_id, .fd = fd, .fn = fn, .data = data };
	g_hash_table_insert(fdwatch_by_id, GUINT_TO_POINTER(w->id), w);
	g_hash_table_insert(fdwatch_by_fd, GINT_TO_POINTER(fd), w);
	return w->id;
}

void fdwatch_remove(guint id)
{
	struct fdwatch *w;

	if (!id || !fdwatch_by_id)
		return;
	w = g_hash_table_lookup(fdwatch_by_id, GUINT_TO_POINTER(id));
	if (!w)
		return;
	if (g_hash_table_lookup(fdwatch_by_fd, GINT_TO_POINTER(w->fd)) == w) {
		/* EBADF: the fd was closed first, and left epoll with it. */
		epoll_ctl(fdwatch_epfd, EPOLL_CTL_DEL, w->fd, NULL);
		g_hash_table_remove(fdwatch_by_fd, GINT_TO_POINTER(w->fd));
	}
	g_hash_table_remove(fdwatch_by_id, GUINT_TO_POINTER(id));
}
