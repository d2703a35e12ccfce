/* The service's command line: serve, init, migrate, check-config, version. */
#ifndef BULWARK_CLI_H
#define BULWARK_CLI_H

#include "bulwark/server.h"

/* Runs the command named in argv for `app` and returns the process exit
 * status (0 ok, 1 runtime failure, 2 usage or configuration error). */
int bw_main(const bw_app *app, int argc, char **argv);

#endif
