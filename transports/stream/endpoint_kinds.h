// Internal to the stream transport's endpoints: the constructors of each
// kind (endpoint.h is the interface) and the back-off they share.
#ifndef FSTUN_TRANSPORTS_STREAM_ENDPOINT_KINDS_H_
#define FSTUN_TRANSPORTS_STREAM_ENDPOINT_KINDS_H_

#include <algorithm>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "transports/stream/endpoint.h"
#include "transports/stream/stream_address.h"

namespace fstun::stream {

// socket_endpoint.cc: unix: and tcp:, connecting or listening.
absl::StatusOr<std::unique_ptr<Endpoint>> OpenSocketEndpoint(const StreamAddress& address,
                                                             const EndpointOptions& options);
// tty_endpoint.cc
absl::StatusOr<std::unique_ptr<Endpoint>> OpenTtyEndpoint(const StreamAddress& address,
                                                          const EndpointOptions& options);

// Retry delays: min, doubling up to max; back to min after a connection
// that lasted (so a peer that restarts is found again quickly, and one
// that is down is not hammered).
class Backoff {
 public:
  Backoff(absl::Duration min, absl::Duration max) : min_(min), max_(max), next_(min) {}
  // Schedules the next try after a failure at `now`.
  void Failed(absl::Time now) {
    retry_at_ = now + next_;
    next_ = std::min(max_, next_ * 2);
  }
  // A connection that worked for `lasted` ended at `now`.
  void Ended(absl::Time now, absl::Duration lasted) {
    if (lasted >= max_) next_ = min_;
    Failed(now);
  }
  absl::Time retry_at() const { return retry_at_; }
  absl::Duration last_delay() const { return next_ == min_ ? min_ : next_ / 2; }

 private:
  const absl::Duration min_, max_;
  absl::Duration next_;
  absl::Time retry_at_ = absl::InfinitePast();
};

}  // namespace fstun::stream

#endif  // FSTUN_TRANSPORTS_STREAM_ENDPOINT_KINDS_H_
