/* SPDX-License-Identifier: MIT */
/*
 * Guest discovery: where guests come from. One source per kind, one file
 * each; every source adds guests with registry_add() and drops them with
 * registry_remove(), and only the guests it found itself:
 *
 *   discover_config.c   [guest NAME] sections with qmp and agent sockets
 *   discover_scan.c     scan_dir's NAME.qmp + NAME.agent pairs, and the
 *                       2 s pass over the socket directories
 *   discover_proxmox.c  proxmox_dir's VMID.qmp + proxmox_agent_dir's
 *                       VMID.agent (the QMP socket shared with qemu-server)
 *   discover_libvirt.c  running libvirt domains with a virtio-mem device
 *                       and the agent channel, followed by their events
 *
 * A guest's [guest] settings (floor, cap, weight, exclusion) are merged in
 * one place, guest_settings_apply(), whichever source found it.
 */
#ifndef RAMM_DISCOVER_H
#define RAMM_DISCOVER_H

struct guest;
struct guest_config;
struct rammd;
struct rammd_config;

/* Which source found a guest (struct guest's @source). */
enum discover_source {
	DISCOVER_CONFIG,  /* a [guest] section with sockets */
	DISCOVER_SCAN,    /* a socket pair in scan_dir */
	DISCOVER_PROXMOX, /* a VM in proxmox_dir */
	DISCOVER_LIBVIRT, /* a libvirt domain */
};

/*
 * guest_settings_apply - set @g's floor, cap, weight and exclusion from
 * its [guest] section in @cfg, or clear them if it has none. The one
 * matching rule: a section with sockets belongs to the configured guest
 * of that name and those sockets; a section without sockets holds the
 * settings of a found (scanned, Proxmox or libvirt) guest of that name.
 * O(sections); never fails.
 */
void guest_settings_apply(const struct rammd_config *cfg, struct guest *g);

/* discover_config_add - manage every configured guest not managed yet
 * (at start and after a reload). Failures are logged per guest. */
void discover_config_add(struct rammd *d);

/*
 * discover_config_drop_gone - before a reload to @next: stop managing each
 * configured guest whose section (name and sockets) is not in @next.
 * Found guests are left alone. Never fails.
 */
void discover_config_drop_gone(struct rammd *d, const struct rammd_config *next);

/*
 * discover_scan_start - if scan_dir or proxmox_dir is set, look now and
 * every 2 s: guests appear with their sockets, and those found there whose
 * sockets went away are dropped. A directory that cannot be read changes
 * nothing. Never fails.
 */
void discover_scan_start(struct rammd *d);

/*
 * discover_socket_found - a source found @gc's sockets: manage it if no
 * guest of that name is, and mark the guest of that name seen this pass.
 * For the directory sources (scan_dir, proxmox_dir).
 */
void discover_socket_found(struct rammd *d, const struct guest_config *gc,
			   enum discover_source source);

/* discover_is_socket - whether @path exists and is a unix socket. */
int discover_is_socket(const char *path);

/* discover_proxmox_scan - one pass over proxmox_dir (discover_proxmox.c),
 * from discover_scan.c's pass. */
void discover_proxmox_scan(struct rammd *d);

/*
 * discover_libvirt_start - connect to libvirtd at @uri (e.g.
 * qemu:///system) on the default GLib main context, and keep managing the
 * running domains that have a virtio-mem device and the org.ramm.agent.0
 * channel, removing each when it stops. The connection is opened on a
 * thread of its own (a hung libvirtd would hold the open for ever), so
 * guests appear once it is up. A connection that fails or is lost is
 * retried with backoff; that is logged, not an error. Returns 0,
 * -EALREADY if already started, or -EINVAL for a URI over CONFIG_MAX_URI.
 * Keeps no reference to @uri.
 */
int discover_libvirt_start(struct rammd *d, const char *uri);

/* discover_libvirt_stop - close the connection and stop retrying. Call
 * after every libvirt guest was freed. Safe if never started. */
void discover_libvirt_stop(void);

#endif /* RAMM_DISCOVER_H */
