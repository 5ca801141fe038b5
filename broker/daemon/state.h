/* SPDX-License-Identifier: MIT */
/*
 * The state file: what rammd keeps across restarts for each guest it has
 * known - its market account (balance, credit), the operator's
 * overrides, and which VM they belong to. Text, one line per record,
 * written atomically.
 *
 *   ramm-state 1
 *   identity NAME uuid=UUID
 *   account NAME balance=N weight=N credit=N
 *   overrides NAME weight=N floor_mib=N cap_mib=N excluded=0|1 drain=0|1
 *
 * A guest's name can pass to another VM (a Proxmox VMID reused, a libvirt
 * domain defined again), so its records name the VM's UUID: a VM of that
 * name with another UUID starts afresh (state_identify()). The identity
 * line is optional: a file written before it existed, or a guest whose
 * UUID was never read, loads as it always did. (A rammd older than the
 * identity line refuses a file that has one, and sets it aside.)
 *
 * The file is untrusted on the way in (a disk can hold anything): sizes
 * and counts are bounded, every field is checked, and a bad file is
 * rejected whole with the line it failed on.
 */
#ifndef RAMM_STATE_H
#define RAMM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "market.h"
#include "vm_uuid.h"

#define STATE_MAX_ENTRIES 4096 /* RAMMD_MAX_GUESTS (registry.h) */
#define STATE_MAX_FILE (4 * 1024 * 1024) /* STATE_MAX_ENTRIES of the longest
					  * records fit (about 500 bytes each) */
#define STATE_RECORDS 3 /* record lines per guest at most */
#define STATE_MAX_LINE 512

/*
 * What the operator set with rammctl. Zero fields mean "no override": the
 * config file decides.
 */
struct guest_overrides {
	uint32_t weight;    /* income shares, 0..10000 */
	uint64_t floor_mib; /* total-memory floor */
	uint64_t cap_mib;   /* total-memory cap */
	int excluded;       /* kept at its size, out of the market */
	int drain;          /* taken back to its floor, whatever it bids */
};

struct state_entry {
	char name[CONFIG_MAX_NAME];     /* guest name, no blanks or controls */
	int have_account;               /* @account is valid */
	struct market_account account;
	struct guest_overrides ov;      /* all zero if none were saved */
	char uuid[VM_UUID_BUFLEN];      /* the VM these belong to, canonical
					 * (vm_uuid_parse()), never nil; ""
					 * if unknown */
};

/*
 * state_format - the file text for @n entries (at most STATE_MAX_ENTRIES).
 * On success *@out is a NUL-terminated string the caller frees with free()
 * and *@len its length. Returns 0, -EINVAL (a bad name or too many
 * entries) or -ENOMEM; then *@out is untouched.
 */
int state_format(const struct state_entry *entries, size_t n, char **out,
		 size_t *len);

/*
 * state_parse - read file text @text/@len (need not be NUL-terminated)
 * into @out (caller-owned, room for @max entries), setting *@n. Records of
 * one guest merge into one entry, in first-seen order.
 * Returns 0, or -EINVAL with "line N: problem" in @err (the outputs are
 * then unspecified).
 */
int state_parse(const char *text, size_t len, struct state_entry *out,
		size_t max, size_t *n, char *err, size_t errlen);

/* What a VM's UUID, read from its hypervisor, means for its name's record. */
enum state_identity {
	STATE_IDENTITY_SAME,     /* the record is that VM's */
	STATE_IDENTITY_ADOPTED,  /* the record named no VM (a file from before
				  * identities, a UUID never read): it is
				  * taken as that VM's, account and all */
	STATE_IDENTITY_REPLACED, /* the record was another VM's, deleted since
				  * and its name reused: it is now a fresh
				  * record of the new VM */
};

/*
 * state_identify - the VM whose UUID is @uuid (canonical, from
 * vm_uuid_parse(), not nil) runs under the name of record @e. If @e names
 * no VM, @e takes @uuid and keeps everything else (ADOPTED). If @e names
 * another VM, @e is reset to what a guest never seen has - no account, no
 * overrides - with @uuid, and its old UUID is copied to @old
 * (caller-owned), so that the new VM inherits nothing (REPLACED).
 * Otherwise @e is left as is (SAME). @old is "" unless REPLACED. Pure;
 * O(1); never fails.
 */
enum state_identity state_identify(struct state_entry *e, const char *uuid,
				   char old[VM_UUID_BUFLEN]);

/*
 * state_write - write file text @text/@len (from state_format()) to @path
 * atomically: a temp file beside it, fsync, rename over @path, fsync the
 * directory. A crash leaves either the old file or the new one. Touches
 * nothing but its arguments and the file system, so it may run on a
 * worker thread (persist.c does). Returns 0 or -errno; on failure @path
 * is unchanged and no temp file is left.
 */
int state_write(const char *path, const char *text, size_t len);

/*
 * state_save - state_format() then state_write(): write @n entries to
 * @path atomically. Returns 0 or -errno; on failure @path is unchanged and
 * no temp file is left.
 */
int state_save(const char *path, const struct state_entry *entries, size_t n);

/*
 * state_load - read @path into @out as state_parse(). Returns 0, -ENOENT if
 * there is no file (a first start), -EFBIG past STATE_MAX_FILE, -errno on
 * a read error, or -EINVAL with the problem in @err.
 */
int state_load(const char *path, struct state_entry *out, size_t max,
	       size_t *n, char *err, size_t errlen);

#endif /* RAMM_STATE_H */
