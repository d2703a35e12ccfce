# Shell helpers shared by the benchmark runners (bench/run.sh, validate.sh, ratelimit.sh).
# Sourced.

free_port() { # a TCP port on 127.0.0.1 that nothing listens on
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "bench: no free port" >&2
  return 1
}

cpu_ticks() { # pid: user+system clock ticks so far
  local stat
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo $((${12} + ${13}))
}

sys_busy() { # clock ticks the whole machine spent busy so far
  local _ user nice system irq softirq steal
  read -r _ user nice system _ _ irq softirq steal _ </proc/stat
  echo $((user + nice + system + irq + softirq + steal))
}

# Results, from the OPS, SECS_SUM and TICKS arrays the runner fills.
rate() { awk -v o="${OPS[$1]}" -v s="${SECS_SUM[$1]}" 'BEGIN { printf "%.0f", o / s }'; }
cpu_us() { # key [printf format]
  awk -v t="${TICKS[$1]}" -v o="${OPS[$1]}" -v hz="$HZ" -v f="${2:-%.0f}" \
    'BEGIN { printf f, o ? t * 1e6 / hz / o : 0 }'
}

child_secs() { # writes to $TMP/secs the user+system seconds of this shell's finished children
  # `times` must run in this shell, not in a command substitution's subshell.
  times >"$TMP/times"
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/);
                 printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$TMP/times" >"$TMP/secs"
}
