/* SPDX-License-Identifier: MIT */
/* Connecting to a unix stream socket by path: QMP, agent channels, rammd. */
#ifndef RAMM_UNIX_SOCKET_H
#define RAMM_UNIX_SOCKET_H

/*
 * unix_socket_connect - connect a new close-on-exec unix socket of @type
 * (SOCK_STREAM, SOCK_SEQPACKET) to @path, non-blocking if @nonblock.
 * Returns the fd (the caller owns it), or -ENAMETOOLONG if @path does not
 * fit sun_path, or -errno from socket() or connect() (a full backlog is
 * -EAGAIN); nothing is left open on failure. Pure libc: also linked into
 * the static guest agent.
 */
int unix_socket_connect(const char *path, int type, int nonblock);

#endif /* RAMM_UNIX_SOCKET_H */
