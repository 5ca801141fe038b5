/* SPDX-License-Identifier: MIT */
/*
 * Proxmox VE VMs found in proxmox_dir; discover.h states the contract.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "discover.h"
#include "rammd.h"

#define DISCOVER_QMP_SUFFIX ".qmp"
#define DISCOVER_AGENT_SUFFIX ".agent"

/* A Proxmox VMID: digits only, no leading zero, 100..999999999. */
static int discover_is_vmid(const char *s, size_t len)
{
	if (len < 3 || len > 9 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/*
 * proxmox_dir holds qemu-server's VMID.qmp sockets, which qemu-server uses
 * itself: those guests get the QMP backend's shared (polite) mode. A VM
 * takes part only once its agent socket, proxmox_agent_dir/VMID.agent
 * (what ramm-pve-args adds to its args: line), exists too; it is named by
 * its VMID.
 */
void discover_proxmox_scan(struct rammd *d)
{
	DIR *dir = opendir(d->cfg.proxmox_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct guest_config gc = { .qmp_shared = 1 };
		size_t len = strlen(de->d_name), base = len - strlen(DISCOVER_QMP_SUFFIX);

		if (len <= strlen(DISCOVER_QMP_SUFFIX) ||
		    strcmp(de->d_name + base, DISCOVER_QMP_SUFFIX) ||
		    !discover_is_vmid(de->d_name, base))
			continue;
		memcpy(gc.name, de->d_name, base);
		if ((size_t)snprintf(gc.qmp_path, sizeof(gc.qmp_path), "%s/%s",
				     d->cfg.proxmox_dir, de->d_name) >= sizeof(gc.qmp_path) ||
		    (size_t)snprintf(gc.agent_path, sizeof(gc.agent_path), "%s/%s%s",
				     d->cfg.proxmox_agent_dir, gc.name,
				     DISCOVER_AGENT_SUFFIX) >= sizeof(gc.agent_path))
			continue;
		if (discover_is_socket(gc.qmp_path) && discover_is_socket(gc.agent_path))
			discover_socket_found(d, &gc, DISCOVER_PROXMOX);
	}
	closedir(dir);
}
