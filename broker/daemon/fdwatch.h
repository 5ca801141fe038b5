/* SPDX-License-Identifier: MIT */
/*
 * Watches on file descriptors for rammd's GLib main loop, through one
 * epoll instance. GLib polls every source's fd on every loop iteration,
 * so with two sockets per guest a loop woken ~1,000 times a second by
 * reports and QMP replies spent most of its time in poll() over thousands
 * of idle fds (O(guests) per wakeup). Here GLib polls one fd, the epoll
 * instance, and a wakeup costs only the fds that are ready.
 *
 * A drop-in for g_unix_fd_add()/g_source_remove() on fds: the callback is
 * a GUnixFDSourceFunc and returning G_SOURCE_REMOVE removes the watch.
 * Main loop only; nothing is locked.
 */
#ifndef RAMM_FDWATCH_H
#define RAMM_FDWATCH_H

#include <glib.h>
#include <glib-unix.h>

/*
 * fdwatch_add - call @fn(@fd, condition, @data) whenever @fd has one of
 * @cond (G_IO_IN, G_IO_OUT; hang-ups and errors are always reported, as
 * G_IO_HUP / G_IO_ERR). The caller keeps owning @fd and must remove the
 * watch before closing it. Returns the watch's id (never 0), or 0 if the
 * epoll instance or the watch cannot be made (errno is set).
 */
guint fdwatch_add(int fd, GIOCondition cond, GUnixFDSourceFunc fn, gpointer data);

/* fdwatch_remove - stop the watch @id. Unknown or removed ids are
 * ignored, so a callback may remove its own watch. Never fails. */
void fdwatch_remove(guint id);

#endif /* RAMM_FDWATCH_H */
