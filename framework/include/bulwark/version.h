/* Bulwark version, for start-up logs and `notes --version`. */
#ifndef BULWARK_VERSION_H
#define BULWARK_VERSION_H

/* Returns the framework version ("MAJOR.MINOR.PATCH"); a static string. */
const char *bw_version(void);

#endif
