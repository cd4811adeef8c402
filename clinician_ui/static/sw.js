// Service worker: shows a web push from the alerting hub and opens the hub when tapped.
self.addEventListener("push", function (event) {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { title: "vward alert" }; }
  event.waitUntil(self.registration.showNotification(data.title || "vward alert", {
    body: data.body || "", tag: data.tag || "vward", data: { url: data.url || "/" }, requireInteraction: true,
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(clients.openWindow((event.notification.data && event.notification.data.url) || "/"));
});
