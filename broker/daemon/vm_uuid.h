/* SPDX-License-Identifier: MIT */
/*
 * A VM's UUID, as its hypervisor reports it (QMP query-uuid, libvirt's
 * virDomainGetUUIDString()). A VM's name can be reused by another VM (a
 * Proxmox VMID, a libvirt domain defined again), its UUID not: it is what
 * ties a guest's record in the state file to one VM. Pure: no I/O, no
 * globals.
 */
#ifndef RAMM_VM_UUID_H
#define RAMM_VM_UUID_H

#include <stddef.h>

#define VM_UUID_LEN 36                  /* 8-4-4-4-12 hex digits */
#define VM_UUID_BUFLEN (VM_UUID_LEN + 1)

/*
 * vm_uuid_parse - check that @s/@len (untrusted; need not be
 * NUL-terminated) is a UUID in its canonical text form, 8-4-4-4-12 hex
 * digits, either case, and store it lowercased and NUL-terminated in @out
 * (caller-owned). Reads at most VM_UUID_LEN bytes of @s. O(1).
 * Returns 0, -EMSGSIZE if @len is not VM_UUID_LEN, or -EINVAL if a byte is
 * out of place; on failure @out holds "".
 */
int vm_uuid_parse(const char *s, size_t len, char out[VM_UUID_BUFLEN]);

/*
 * vm_uuid_is_nil - whether @uuid (canonical, from vm_uuid_parse()) is the
 * nil UUID: what QEMU reports when it was started without -uuid. It names
 * no VM, so it is no identity. Never fails.
 */
int vm_uuid_is_nil(const char *uuid);

#endif /* RAMM_VM_UUID_H */
