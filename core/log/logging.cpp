// logging.cpp
#include "log/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

#include <chrono>
#include <cstdlib>
#include <mutex>

#include "config/config_tree.hpp"

namespace geopol::core {

namespace {

std::mutex gMutex;
LogSettings gSettings;
bool gTargetSet = false;

/// The one sink every logger holds. Worker threads and civetweb threads log
/// while a reload changes the target; swapping the target under this sink's
/// lock, instead of replacing loggers' sink lists, keeps that race-free.
class SwitchSink : public spdlog::sinks::sink {
public:
    void log(const spdlog::details::log_msg &msg) override
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (target_)
            target_->log(msg);
    }
    void flush() override
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (target_)
            target_->flush();
    }
    void set_pattern(const std::string &) override {}
    void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

    void setTarget(spdlog::sink_ptr target)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        target_ = std::move(target);
    }

private:
    std::mutex mutex_;
    spdlog::sink_ptr target_;
};

std::shared_ptr<SwitchSink> &switchSink()
{
    static auto sink = std::make_shared<SwitchSink>();
    return sink;
}

/// One JSON object per line. Messages of the "decision" logger are already
/// JSON objects (see decision_log.cpp) and are embedded as such.
class JsonFormatter : public spdlog::formatter {
public:
    explicit JsonFormatter(bool timestamps) : timestamps_(timestamps) {}

    void format(const spdlog::details::log_msg &msg, spdlog::memory_buf_t &dest) override
    {
        std::string out = "{";
        if (timestamps_) {
            auto t = std::chrono::system_clock::to_time_t(msg.time);
            auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch())
                    .count() %
                1000;
            std::tm tm{};
            gmtime_r(&t, &tm);
            char buf[64];
            std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                          static_cast<int>(ms));
            out += "\"ts\":\"";
            out += buf;
            out += "\",";
        }
        auto lv = spdlog::level::to_string_view(msg.level);
        out += "\"level\":\"" + std::string(lv.data(), lv.size()) + "\",\"logger\":\"";
        out += jsonEscape(std::string_view(msg.logger_name.data(), msg.logger_name.size()));
        std::string_view text(msg.payload.data(), msg.payload.size());
        if (msg.logger_name == "decision" && !text.empty() && text.front() == '{') {
            out += "\",\"decision\":";
            out += text;
        } else {
            out += "\",\"msg\":\"";
            out += jsonEscape(text);
            out += "\"";
        }
        out += "}\n";
        dest.append(out.data(), out.data() + out.size());
    }

    std::unique_ptr<spdlog::formatter> clone() const override
    {
        return std::make_unique<JsonFormatter>(timestamps_);
    }

private:
    bool timestamps_;
};

std::unique_ptr<spdlog::formatter> makeFormatter(const LogSettings &s)
{
    if (s.json)
        return std::make_unique<JsonFormatter>(s.timestamps && s.target != "syslog");
    std::string pattern;
    if (s.timestamps && s.target != "syslog")
        pattern = "%Y-%m-%dT%H:%M:%S.%e ";
    pattern += s.target == "syslog" ? "[%n] %v" : "%l [%n] %v";
    return std::make_unique<spdlog::pattern_formatter>(pattern);
}

void configureLogger(const std::shared_ptr<spdlog::logger> &l)
{
    l->set_level(gSettings.level);  // an atomic store in spdlog
    l->flush_on(spdlog::level::trace);
}

}  // namespace

LogSettings readLogSettings(SectionView &view)
{
    LogSettings s;
    std::string level = view.getString("level", "warning");
    if (level == "none" || level == "off")
        s.level = spdlog::level::off;
    else if (level == "error")
        s.level = spdlog::level::err;
    else if (level == "warning" || level == "warn")
        s.level = spdlog::level::warn;
    else if (level == "info")
        s.level = spdlog::level::info;
    else if (level == "debug")
        s.level = spdlog::level::debug;
    else
        view.error("level", "must be none, error, warning, info or debug (got '" + level + "')");
    s.target = view.getString("target", "stderr");
    if (s.target != "stderr" && s.target != "syslog")
        view.error("target", "must be stderr or syslog");
    std::string format = view.getString("format", "text");
    if (format != "text" && format != "json")
        view.error("format", "must be text or json");
    s.json = format == "json";
    std::string decisions = view.getString("decision-format", "geopol");
    if (decisions != "geopol" && decisions != "reference")
        view.error(
            "decision-format",
            "must be geopol or reference (geoip-policyd 1.0.10's keys), not '" + decisions + "'");
    s.referenceDecisions = decisions == "reference";
    // journald adds its own timestamps; JOURNAL_STREAM tells us we write to it.
    bool underJournal = std::getenv("JOURNAL_STREAM") != nullptr;
    s.timestamps = view.getBool("timestamps", !underJournal);
    return s;
}

void applyLogSettings(const LogSettings &s)
{
    std::lock_guard<std::mutex> lock(gMutex);
    gSettings = s;
    spdlog::sink_ptr target;
    if (s.target == "syslog")
        target =
            std::make_shared<spdlog::sinks::syslog_sink_mt>("geopold", LOG_PID, LOG_MAIL, false);
    else
        target = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    target->set_formatter(makeFormatter(s));
    switchSink()->setTarget(std::move(target));
    gTargetSet = true;
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger> &l) { configureLogger(l); });
}

std::shared_ptr<spdlog::logger> namedLogger(const std::string &name)
{
    std::lock_guard<std::mutex> lock(gMutex);
    if (auto l = spdlog::get(name))
        return l;
    if (!gTargetSet) {  // before any configuration: warnings to stderr
        auto target = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        target->set_formatter(makeFormatter(gSettings));
        switchSink()->setTarget(target);
        gTargetSet = true;
    }
    auto l = std::make_shared<spdlog::logger>(name, switchSink());
    configureLogger(l);
    spdlog::register_logger(l);
    return l;
}

std::string jsonEscape(std::string_view s)
{
    std::string out;
    out.reserve(s.size() + 8);
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out;
}

}  // namespace geopol::core
