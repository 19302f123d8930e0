// SPDX-License-Identifier: GPL-2.0
/*
 * stats.c - device counters in sysfs (/sys/class/misc/accelkm0/) and
 * per-client usage in /proc/PID/fdinfo, with keys in the style of the DRM
 * usage-stats document (Documentation/gpu/drm-usage-stats.rst), so tools
 * that read drm-* keys can read accelkm clients too.
 */
#include <linux/device.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>

#include "accelkm.h"

static const char *const engine_names[ACCELKM_ENGINES] = {
	[ACCELKM_ENGINE_COPY] = "copy",
	[ACCELKM_ENGINE_CTRL] = "control",
};

#define ACCELKM_ATTR_ATOMIC64(name, expr)				\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(expr)); \
}									\
static DEVICE_ATTR_RO(name)

#define ACCELKM_ATTR_ATOMIC(name, expr)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%d\n", atomic_read(expr));		\
}									\
static DEVICE_ATTR_RO(name)

ACCELKM_ATTR_ATOMIC64(pinned_bytes, &accelkm.pinned_bytes);
ACCELKM_ATTR_ATOMIC64(submitted, &accelkm.submitted);
ACCELKM_ATTR_ATOMIC64(completed, &accelkm.completed);
ACCELKM_ATTR_ATOMIC64(failed, &accelkm.failed);
ACCELKM_ATTR_ATOMIC64(busy_ns_copy, &accelkm.busy_ns[ACCELKM_ENGINE_COPY]);
ACCELKM_ATTR_ATOMIC64(busy_ns_control, &accelkm.busy_ns[ACCELKM_ENGINE_CTRL]);
ACCELKM_ATTR_ATOMIC(bos, &accelkm.bos);
ACCELKM_ATTR_ATOMIC(fences, &accelkm.fences);
ACCELKM_ATTR_ATOMIC(queues, &accelkm.queues);
ACCELKM_ATTR_ATOMIC(clients, &accelkm.clients);

static ssize_t api_version_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d.%d\n", ACCEL_API_VERSION_MAJOR,
			  ACCEL_API_VERSION_MINOR);
}
static DEVICE_ATTR_RO(api_version);

static struct attribute *accelkm_attrs[] = {
	&dev_attr_pinned_bytes.attr,
	&dev_attr_submitted.attr,
	&dev_attr_completed.attr,
	&dev_attr_failed.attr,
	&dev_attr_busy_ns_copy.attr,
	&dev_attr_busy_ns_control.attr,
	&dev_attr_bos.attr,
	&dev_attr_fences.attr,
	&dev_attr_queues.attr,
	&dev_attr_clients.attr,
	&dev_attr_api_version.attr,
	NULL,
};

static const struct attribute_group accelkm_group = {
	.attrs = accelkm_attrs,
};

const struct attribute_group *accelkm_groups[] = {
	&accelkm_group,
	NULL,
};

void accelkm_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct accelkm_file *f = file->private_data;
	u64 kib = atomic64_read(&f->bo_bytes) >> 10;
	int i;

	seq_puts(m, "drm-driver:\t" ACCEL_KM_NAME "\n");
	seq_printf(m, "drm-client-id:\t%u\n", f->client_id);
	for (i = 0; i < ACCELKM_ENGINES; i++)
		seq_printf(m, "drm-engine-%s:\t%lld ns\n", engine_names[i],
			   (long long)atomic64_read(&f->busy_ns[i]));
	seq_printf(m, "drm-total-host:\t%llu KiB\n", kib);
	seq_printf(m, "drm-resident-host:\t%llu KiB\n", kib);
	seq_printf(m, "accelkm-submitted:\t%lld\n",
		   (long long)atomic64_read(&f->submitted));
	seq_printf(m, "accelkm-completed:\t%lld\n",
		   (long long)atomic64_read(&f->completed));
	seq_printf(m, "accelkm-failed:\t%lld\n",
		   (long long)atomic64_read(&f->failed));
}
