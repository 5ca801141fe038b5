/* SPDX-License-Identifier: MIT */
/*
 * The libvirt backend's side for libvirt discovery (daemon/discover_libvirt.c):
 * discovery owns the one libvirt connection and the domains' lifecycle; it
 * hands the backend the connection and each guest's domain, and the
 * backend drives the device (backend_libvirt_ops) and follows its size.
 */
#ifndef RAMM_BACKEND_LIBVIRT_H
#define RAMM_BACKEND_LIBVIRT_H

#include <libvirt/libvirt.h>

#include "libvirt_xml.h"

struct guest;
struct rammd;

/* backend_libvirt_error - libvirt's last error message, never NULL. */
const char *backend_libvirt_error(void);

/*
 * backend_libvirt_read_domain - read the live XML of @dom into @info.
 * Returns 0, or -EINVAL (malformed or over LV_XML_MAX), -ENODEV (not a
 * ramm guest), -ENOTCONN (libvirt failed: backend_libvirt_error()).
 */
int backend_libvirt_read_domain(virDomainPtr dom, struct lv_domain_info *info);

/*
 * backend_libvirt_connected - drive the devices of @d's libvirt guests
 * over @conn (not owned: the caller closes it after
 * backend_libvirt_disconnected()), following its size-change events.
 * Returns 0, or -ENOTCONN if the events cannot be registered (then
 * nothing was kept).
 */
int backend_libvirt_connected(struct rammd *d, virConnectPtr conn);

/*
 * backend_libvirt_conn_lost - the connection died (from libvirt's close
 * callback, where it may not be closed): every libvirt guest is marked lost,
 * keeping its memory and place. Returns how many there are.
 */
unsigned int backend_libvirt_conn_lost(void);

/* backend_libvirt_disconnected - forget the connection and every domain;
 * call before closing it. Safe when not connected. */
void backend_libvirt_disconnected(void);

/*
 * backend_libvirt_bind - @g (a libvirt guest) is domain @dom (referenced,
 * not taken over). The domain's UUID is reported first
 * (guest_backend_identity()). With @info, the domain runs: its device is
 * reported and driven. Without, it is not running: @g is marked lost and not driven
 * until bound again with @info.
 */
void backend_libvirt_bind(struct guest *g, virDomainPtr dom,
			  const struct lv_domain_info *info);

/* backend_libvirt_pause - stop driving @g (paused, pm-suspended, crashed),
 * marking it lost; it keeps its memory. */
void backend_libvirt_pause(struct guest *g);

#endif /* RAMM_BACKEND_LIBVIRT_H */
