/* SPDX-License-Identifier: MIT */
/* Connecting to a unix stream socket by path: QMP, agent channels, rammd. */
#ifndef RAMM_UNIX_SOCKET_H
#define RAMM_UNIX_SOCKET_H

/*
 * unix_socket_connect - connect a new close-on-exec stream socket to @path,
 * non-blocking if @nonblock. Returns the fd (the caller owns it), or
 * -ENAMETOOLONG if @path does not fit sun_path, or -errno from socket() or
 * connect(); nothing is left open on failure.
 */
int unix_socket_connect(const char *path, int nonblock);

#endif /* RAMM_UNIX_SOCKET_H */
