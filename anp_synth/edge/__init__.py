"""The edge: cache keys (`keys`), the shipped Varnish VCL (`anp.vcl`), purge-by-key clients (`purge`)."""
