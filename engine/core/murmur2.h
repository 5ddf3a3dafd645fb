// Kafka's key hash and partition arithmetic, bit-for-bit the Java client's
// (org.apache.kafka.common.utils.Utils.murmur2, BuiltInPartitioner.partitionForKey) and
// librdkafka's `murmur2_random` partitioner, so a key lands on the partition a Java producer would
// pick. Pure functions, thread-safe, allocation-free.
#pragma once

#include <cstdint>
#include <string_view>

namespace dataflow {

// Murmur2 with Kafka's seed 0x9747b28c, returned as the Java `int` Utils.murmur2 returns.
int32_t murmur2(std::string_view key);

// The Java client's partition for a non-null key: toPositive(murmur2(key)) % partition_count.
// `partition_count` must be > 0. An empty key is hashed like Java's `new byte[0]`.
int32_t partitionForKey(std::string_view key, int32_t partition_count);

// The `Static` partition strategy: the dataflow instance ordinal modulo the topic's partition
// count. Called by the Kafka destination once it knows the count from metadata. `partition_count`
// must be > 0.
int32_t staticPartition(uint32_t instance_ordinal, int32_t partition_count);

}  // namespace dataflow
