from django.urls import path

from search import api, discovery_api

urlpatterns = [
    path("search", api.SearchView.as_view(), name="search"),
    path("search/suggest", api.SuggestView.as_view(), name="search-suggest"),
    path("listings/<str:listing_id>/similar", api.SimilarView.as_view(), name="listing-similar"),
    path("saved-searches", api.SavedSearchListView.as_view(), name="saved-searches"),
    path("feed", discovery_api.FeedView.as_view(), name="feed"),
    path("listings/<str:listing_id>/qr.png", discovery_api.ListingQRView.as_view(),
         name="listing-qr"),
    path(
        "saved-searches/<str:saved_search_id>",
        api.SavedSearchDetailView.as_view(),
        name="saved-search-detail",
    ),
]
