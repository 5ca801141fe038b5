/* SPDX-License-Identifier: MIT */
/*
 * rammd's log: one line per event on stderr (the journal captures it under
 * systemd), prefixed with a level and a monotonic timestamp. Only daemon code
 * logs; the libraries return -errno and leave logging to their caller.
 */
#ifndef RAMM_LOG_H
#define RAMM_LOG_H

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* log_set_level - drop messages less severe than @level. */
void log_set_level(enum log_level level);

__attribute__((format(printf, 2, 3)))
void log_msg(enum log_level level, const char *fmt, ...);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif /* RAMM_LOG_H */
