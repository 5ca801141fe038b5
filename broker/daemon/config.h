/* SPDX-License-Identifier: MIT */
/*
 * rammd's configuration: an INI file, config/rammd.conf documents every key.
 * Parsing is pure; config_load() adds only the file read. Errors name the
 * file, the line and the key.
 */
#ifndef RAMM_CONFIG_H
#define RAMM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_GUESTS 256
#define CONFIG_MAX_NAME 64
/* sun_path is 108 bytes; leave room for the terminating NUL. */
#define CONFIG_MAX_SOCKET_PATH 107
#define CONFIG_MAX_FILE (1024 * 1024)
#define CONFIG_MAX_LINE 1024
#define CONFIG_MAX_URI 255
/* supply_mib = auto: derive the supply from the host's MemTotal. */
#define CONFIG_SUPPLY_AUTO UINT64_MAX

/* metrics_listen: "127.x.x.x:PORT" or "[::1]:PORT". */
#define CONFIG_MAX_LISTEN 63

/* A parsed metrics_listen address. */
struct config_listen {
	char host[16]; /* dotted IPv4, or "::1" */
	uint16_t port;
	int ipv6;
};

struct guest_config {
	char name[CONFIG_MAX_NAME];                 /* [guest NAME] */
	char qmp_path[CONFIG_MAX_SOCKET_PATH + 1];  /* QMP unix socket */
	char agent_path[CONFIG_MAX_SOCKET_PATH + 1]; /* agent chardev socket */
	uint64_t floor_mib; /* total-memory floor; 0: boot + min_floor_mib */
	uint64_t cap_mib;   /* total-memory cap; 0: boot + virtio-mem max */
	uint32_t weight;    /* shares of market income */
	uint32_t excluded;  /* 1: kept at its size, out of the market */
	uint32_t qmp_shared; /* not a key: 1 for a socket others use too
			      * (Proxmox's VMID.qmp), so the QMP backend
			      * connects per command and never holds it */
};

struct rammd_config {
	uint32_t tick_ms;           /* market period */
	uint64_t supply_mib;        /* MiB above all floors, or SUPPLY_AUTO */
	uint64_t host_reserve_mib;  /* kept for the host when supply is auto */
	uint64_t unit_mib;          /* market unit */
	uint64_t max_plug_mib;      /* per guest per tick */
	uint64_t max_unplug_mib;    /* per guest per tick */
	uint32_t move_cost;         /* ranking bonus for held memory */
	uint64_t quantum_mib;       /* smaller changes are skipped */
	uint64_t min_floor_mib;     /* default floor above boot memory */
	uint32_t stale_report_ms;   /* older bids freeze the guest */
	uint32_t resize_timeout_ms; /* give up waiting for a size change */
	uint32_t evict_deadline_ms; /* told to the guest in evict notices */
	uint32_t evict_prepare_ms;  /* most a shrink waits for the guest to
				     * empty what it will unplug */
	uint32_t min_hold_ms;       /* memory won is not taken back sooner */
	uint32_t shrink_delay_ms;   /* a shrink must be wanted this long */
	uint32_t return_window_ms;  /* memory taken waits this long for its
				     * guest to grow back into it */
	uint32_t preempt_price;     /* a bid this high for a unit it lacks
				     * is short: plan.h; 0 off */
	uint32_t max_price;         /* bids above are counted at this price */
	uint32_t reserve_price;     /* units bid at or below are not sold */
	uint32_t budget_price;      /* income pool per tick = supply * this */
	uint32_t savings_ticks;     /* balance cap, in ticks of income */
	uint32_t claim_price;       /* a bid this high claims "in use" */
	uint32_t credit_idle_slack_pct; /* idle claim tolerated, % of claim */
	uint64_t credit_idle_slack_mib; /* ... plus this */
	uint32_t credit_fall_idle;  /* credit (1/1000) lost per idle tick */
	uint32_t credit_fall_unplug; /* lost per wholly missed unplug */
	uint32_t credit_rise;       /* gained per good tick */
	uint64_t critical_free_mib; /* host MemAvailable below: emergency */
	uint32_t default_weight;    /* weight of guests that name none */
	char control_socket[CONFIG_MAX_SOCKET_PATH + 1];
	char scan_dir[CONFIG_MAX_SOCKET_PATH + 1]; /* NAME.qmp + NAME.agent */
	char proxmox_dir[CONFIG_MAX_SOCKET_PATH + 1]; /* VMID.qmp (shared); "": off */
	char proxmox_agent_dir[CONFIG_MAX_SOCKET_PATH + 1]; /* VMID.agent */
	char metrics_listen[CONFIG_MAX_LISTEN + 1]; /* loopback HOST:PORT; "": off */
	char state_file[CONFIG_MAX_SOCKET_PATH + 1]; /* accounts, overrides */
	char libvirt_uri[CONFIG_MAX_URI + 1]; /* "": no libvirt backend */
	struct guest_config guests[CONFIG_MAX_GUESTS];
	size_t n_guests;
};

/*
 * config_parse_listen - parse a metrics_listen value: a loopback address
 * and port, "127.x.x.x:PORT" or "[::1]:PORT" (no names: nothing to resolve).
 * @out may be NULL (validation only). Returns 0, or -EINVAL for anything
 * else (then @out is untouched). Pure.
 */
int config_parse_listen(const char *s, struct config_listen *out);

/*
 * config_valid_name - whether @s (NUL-terminated) may name a guest: 1 to
 * CONFIG_MAX_NAME - 1 characters of [A-Za-z0-9_.-]. Pure; never fails.
 */
int config_valid_name(const char *s);

struct market_params;
struct market_budget;
struct market_credit_params;

/*
 * config_market - the market's knobs from @cfg, in units of @unit_mib (the
 * same for rammd and ramm-sim): move cost, quantum and reserve price into
 * @params (its supply is the caller's), the budget for @supply_units into
 * @budget, the credit rules into @credit. All caller-owned; never fails.
 */
void config_market(const struct rammd_config *cfg, uint64_t unit_mib,
		   uint64_t supply_units, struct market_params *params,
		   struct market_budget *budget,
		   struct market_credit_params *credit);

/* config_defaults - fill @cfg with the documented defaults. Never fails. */
void config_defaults(struct rammd_config *cfg);

/*
 * config_parse - parse INI @text of @len bytes over the defaults in @cfg.
 * @filename: used in error messages only.
 * @err: caller-owned, receives "FILE:LINE: key 'K': problem" on failure.
 * Returns 0 or -EINVAL; on failure @cfg is partly updated and must not be
 * used.
 */
int config_parse(const char *text, size_t len, const char *filename,
		 struct rammd_config *cfg, char *err, size_t errlen);

/*
 * config_load - config_defaults() then config_parse() of file @path.
 * Returns 0, -errno if the file cannot be read (or is over
 * CONFIG_MAX_FILE: -EFBIG), or -EINVAL with @err filled.
 */
int config_load(const char *path, struct rammd_config *cfg, char *err,
		size_t errlen);

#endif /* RAMM_CONFIG_H */
