/* Everything a service built on Bulwark uses. */
#ifndef BULWARK_H
#define BULWARK_H

#include "bulwark/arena.h"
#include "bulwark/ratelimit.h"
#include "bulwark/audit.h"
#include "bulwark/auth.h"
#include "bulwark/cli.h"
#include "bulwark/clock.h"
#include "bulwark/config.h"
#include "bulwark/http.h"
#include "bulwark/log.h"
#include "bulwark/migrate.h"
#include "bulwark/req.h"
#include "bulwark/res.h"
#include "bulwark/server.h"
#include "bulwark/store.h"
#include "bulwark/version.h"

#endif
