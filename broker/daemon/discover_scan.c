/* SPDX-License-Identifier: MIT */
/*
 * Guests found as socket pairs in scan_dir, and the periodic pass over
 * the socket directories (scan_dir and proxmox_dir); discover.h states
 * the contract.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "backend.h"
#include "discover.h"
#include "guest.h"
#include "rammd.h"
#include "registry.h"

#define DISCOVER_SCAN_MS 2000
#define DISCOVER_QMP_SUFFIX ".qmp"
#define DISCOVER_AGENT_SUFFIX ".agent"

int discover_is_socket(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISSOCK(st.st_mode);
}

void discover_socket_found(struct rammd *d, const struct guest_config *gc,
			   enum discover_source source)
{
	struct guest *g = registry_find(d, gc->name);

	if (!g)
		g = registry_add(d, gc, source, &backend_qmp_ops);
	if (g)
		g->seen = 1;
}

/*
 * scan_dir holds NAME.qmp (QMP) and NAME.agent (agent channel) sockets, one
 * pair per VM, named like Proxmox's /var/run/qemu-server/VMID.qmp but in a
 * directory of rammd's own: a QMP socket serves one client at a time.
 */
static void discover_scan_dir(struct rammd *d)
{
	DIR *dir = opendir(d->cfg.scan_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct guest_config gc = { 0 };
		size_t len = strlen(de->d_name), base = len - strlen(DISCOVER_QMP_SUFFIX);

		if (len <= strlen(DISCOVER_QMP_SUFFIX) || base >= sizeof(gc.name) ||
		    strcmp(de->d_name + base, DISCOVER_QMP_SUFFIX))
			continue;
		memcpy(gc.name, de->d_name, base);
		if ((size_t)snprintf(gc.qmp_path, sizeof(gc.qmp_path), "%s/%s",
				     d->cfg.scan_dir, de->d_name) >= sizeof(gc.qmp_path) ||
		    (size_t)snprintf(gc.agent_path, sizeof(gc.agent_path), "%s/%s%s",
				     d->cfg.scan_dir, gc.name, DISCOVER_AGENT_SUFFIX) >=
			    sizeof(gc.agent_path))
			continue;
		if (discover_is_socket(gc.qmp_path))
			discover_socket_found(d, &gc, DISCOVER_SCAN);
	}
	closedir(dir);
}

/*
 * Both directories. A guest found in one whose sockets disappear (the VM
 * stopped) is forgotten; configured guests and libvirt domains are never
 * dropped here. A directory that cannot be read drops nothing.
 */
static void discover_scan_pass(struct rammd *d)
{
	if ((d->cfg.scan_dir[0] && access(d->cfg.scan_dir, R_OK | X_OK)) ||
	    (d->cfg.proxmox_dir[0] && access(d->cfg.proxmox_dir, R_OK | X_OK)))
		return;
	for (guint i = 0; i < d->guests->len; i++)
		((struct guest *)g_ptr_array_index(d->guests, i))->seen = 0;
	if (d->cfg.scan_dir[0])
		discover_scan_dir(d);
	if (d->cfg.proxmox_dir[0])
		discover_proxmox_scan(d);
	for (guint i = d->guests->len; i-- > 0;) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		if ((g->source == DISCOVER_SCAN || g->source == DISCOVER_PROXMOX) &&
		    !g->seen)
			registry_remove(d, g, g->source == DISCOVER_PROXMOX
					? "its QMP or agent socket is gone"
					: "its QMP socket is gone");
	}
}

static gboolean discover_on_scan(gpointer data)
{
	discover_scan_pass(data);
	return G_SOURCE_CONTINUE;
}

void discover_scan_start(struct rammd *d)
{
	if (!d->cfg.scan_dir[0] && !d->cfg.proxmox_dir[0])
		return;
	discover_scan_pass(d);
	g_timeout_add(DISCOVER_SCAN_MS, discover_on_scan, d);
}
