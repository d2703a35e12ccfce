#include <stdio.h>
#include <time.h>

#include "bulwark/clock.h"

int bw_clock_iso8601(char out[BW_CLOCK_ISO_SIZE])
{
    struct timespec ts;
    struct tm tm;
    char base[24];
    int n;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL ||
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return -1;
    n = snprintf(out, BW_CLOCK_ISO_SIZE, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
    return n > 0 && n < BW_CLOCK_ISO_SIZE ? 0 : -1;
}

long long bw_clock_unix(void)
{
    return (long long)time(NULL);
}
