// Episode counts per subscriber, key, day and hour-of-day (days counted from the first
// episode of the channel): the input of the null model's expected counts.
MATCH (e:Episode {run: $run, channel: $channel})
WITH min(e.t) AS t0
MATCH (x:Episode {run: $run, channel: $channel})
WITH x.msisdn AS msisdn, x.key AS key, (x.t - t0) / 86400 AS day, ((x.t - t0) / 3600) % 24 AS hour, t0,
     count(*) AS n, sum(x.t_end - x.t) AS dur
RETURN msisdn, key, day, hour, t0, n, dur
