// Episode counts per subscriber, key and local hour (hours counted at the zone's standard offset
// $offset, so local days and hours of day are exact): the input of the pair-local null model.
MATCH (x:Episode {run: $run, channel: $channel})
WITH x.msisdn AS msisdn, x.key AS key, (x.t + $offset) / 3600 AS h, count(*) AS n, sum(x.t_end - x.t) AS dur
RETURN msisdn, key, h, n, dur
