"""The data plane: segments → verified files → typed frames, knowing no client.

It is handed what it needs — an httpx client for the presigned download host, the cache, the
retry policy and callables that list an instance's segments and renew a segment's URL — and
its download jobs (:class:`~asc_nb.data.transfer.SegmentJob`) are plain, picklable data.

``transfer`` one verified segment download · ``engine`` the concurrent runner · ``fetch`` a
planned fetch's rows (provenance, window, latest vintage, Parquet) · ``parse`` bytes → typed
table · ``cache`` checksum-keyed verified files · ``vintage`` Apple's overwrite rule ·
``export`` Hive-partitioned Parquet · ``progress`` bars and callbacks.
"""
